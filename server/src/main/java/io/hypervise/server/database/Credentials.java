package io.hypervise.server.database;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * The embedded PostgreSQL's passwords: the superuser's (used only to create the owner role and the
 * database), the owner's (migrations) and the application's. Generated at the first start and kept,
 * readable by the server's account alone, beside the data.
 */
record Credentials(String superuserPassword, String ownerPassword, String appPassword) {

    private static final String ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    /** Generated passwords, and the only ones accepted from the file: they go into SQL as literals. */
    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9]{16,128}");

    static Credentials generate() {
        SecureRandom random = new SecureRandom();
        return new Credentials(password(random), password(random), password(random));
    }

    static Credentials read(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(file)) {
            p.load(in);
        }
        Credentials c = new Credentials(p.getProperty("superuser.password"), p.getProperty("owner.password"),
                p.getProperty("app.password"));
        for (String password : new String[] {c.superuserPassword, c.ownerPassword, c.appPassword}) {
            if (password == null || !SAFE.matcher(password).matches()) {
                throw new IOException(file + " must hold superuser.password, owner.password and app.password, "
                        + "each 16 to 128 letters or digits");
            }
        }
        return c;
    }

    /** Writes the file with mode 600 from the first byte on, and atomically. */
    void write(Path file) throws IOException {
        Properties p = new Properties();
        p.setProperty("superuser.password", superuserPassword);
        p.setProperty("owner.password", ownerPassword);
        p.setProperty("app.password", appPassword);
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        Files.createFile(partial, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (Writer out = Files.newBufferedWriter(partial)) {
            p.store(out, "Passwords of the embedded PostgreSQL, generated at its first start. Keep them with its data.");
        }
        Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String password(SecureRandom random) {
        StringBuilder s = new StringBuilder(32);
        for (int i = 0; i < 32; i++) {
            s.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
        }
        return s.toString();
    }

    @Override
    public String toString() {
        return "Credentials[passwords hidden]";
    }
}
