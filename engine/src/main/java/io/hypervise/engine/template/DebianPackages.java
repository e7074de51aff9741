package io.hypervise.engine.template;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The host's apt and dpkg, run as processes with argument lists (never through a shell): look up
 * a package's candidate version for the host's own architecture, download its .deb into a cache
 * once, unpack it, compare versions.
 */
final class DebianPackages implements PackageSource {

    /** A package version as apt's lists describe it. */
    record Package(String name, String version, String architecture, Optional<String> sha256, List<String> depends) {

        /** The file name apt-get download gives it: the epoch's ':' is written as "%3a". */
        String debFileName() {
            return name + "_" + version.replace(":", "%3a") + "_" + architecture + ".deb";
        }

        /** The first package this one depends on whose name starts with {@code prefix}. */
        String dependencyStartingWith(String prefix) throws IOException {
            for (String alternatives : depends) {
                for (String alternative : alternatives.split("\\|")) {
                    String dependency = alternative.strip().split("[\\s(:]", 2)[0];
                    if (dependency.startsWith(prefix)) {
                        return dependency;
                    }
                }
            }
            throw new IOException(name + " " + version + " depends on no package named " + prefix + "…; it depends on "
                    + (depends.isEmpty() ? "nothing" : String.join(", ", depends)));
        }
    }

    private static final Duration DOWNLOAD_TIMEOUT = Duration.ofMinutes(20);
    private static final Duration QUICK_TIMEOUT = Duration.ofMinutes(5);

    private final Path downloadCache;
    private final Consumer<String> progress;

    DebianPackages(Path downloadCache, Consumer<String> progress) {
        this.downloadCache = downloadCache;
        this.progress = progress;
    }

    /** The version apt would install now. */
    @Override
    public Package candidate(String name) throws IOException {
        String record;
        try {
            record = run(List.of("apt-cache", "show", "--no-all-versions", name), null, QUICK_TIMEOUT);
        } catch (StaleListsException e) {
            throw new StaleListsException(e.getMessage() + "\n(apt does not know " + name
                    + "; if its package lists are empty or old, run 'apt-get update' as root)");
        }
        Map<String, String> fields = firstRecord(record);
        if (!fields.containsKey("Version")) {
            throw new StaleListsException("apt-cache show " + name + " printed no version; run 'apt-get update'");
        }
        return parse(fields, name);
    }

    /** A package from the fields of its record in a Packages list (or apt-cache show's output). */
    static Package parse(Map<String, String> fields, String name) {
        List<String> depends = new ArrayList<>();
        for (String field : List.of("Pre-Depends", "Depends")) {
            if (fields.containsKey(field)) {
                for (String d : fields.get(field).split(",")) {
                    depends.add(d.strip());
                }
            }
        }
        return new Package(fields.getOrDefault("Package", name), fields.get("Version"),
                fields.getOrDefault("Architecture", "amd64"), Optional.ofNullable(fields.get("SHA256")), List.copyOf(depends));
    }

    /** The package's .deb in the download cache, downloaded only if it is not there yet. */
    @Override
    public Path download(Package p) throws IOException {
        Optional<Path> cached = cached(downloadCache, p);
        if (cached.isPresent()) {
            progress.accept("using cached " + p.name() + " " + p.version());
            return cached.get();
        }
        Path deb = downloadCache.resolve(p.debFileName());
        progress.accept("downloading " + p.name() + " " + p.version());
        // Into a private directory first: an interrupted download must never look like a cached file.
        Path partial = Files.createTempDirectory(downloadCache, ".download-");
        try {
            run(List.of("apt-get", "download", p.name() + "=" + p.version()), partial, DOWNLOAD_TIMEOUT);
            Path fetched = partial.resolve(p.debFileName());
            if (!Files.isRegularFile(fetched)) {
                throw new IOException("apt-get download " + p.name() + "=" + p.version() + " succeeded but wrote no "
                        + p.debFileName() + " in " + partial);
            }
            if (!checksumMatches(p, fetched)) {
                throw new IOException("downloaded " + p.debFileName() + " does not have the SHA256 apt's lists give for it");
            }
            Files.move(fetched, deb, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return deb;
        } finally {
            try (var leftovers = Files.list(partial)) {
                leftovers.forEach(DebianPackages::deleteQuietly);
            }
            deleteQuietly(partial);
        }
    }

    /** The package's .deb if the download cache has it whole (its SHA256 is the lists'). */
    static Optional<Path> cached(Path downloadCache, Package p) throws IOException {
        Files.createDirectories(downloadCache);
        Path deb = downloadCache.resolve(p.debFileName());
        return Files.isRegularFile(deb) && checksumMatches(p, deb) ? Optional.of(deb) : Optional.empty();
    }

    static void extract(Path deb, Path directory) throws IOException {
        Files.createDirectories(directory);
        run(List.of("dpkg-deb", "-x", deb.toString(), directory.toString()), null, QUICK_TIMEOUT);
    }

    /** The host's own Debian architecture, e.g. "amd64": the one its apt fetches packages for. */
    static String hostArchitecture() throws IOException {
        return run(List.of("dpkg", "--print-architecture"), null, QUICK_TIMEOUT).strip();
    }

    /** Whether Debian version {@code a} is newer than {@code b}, as dpkg orders them (epochs, tildes and all). */
    static boolean newer(String a, String b) throws IOException {
        // dpkg --compare-versions answers with its exit status: 0 for yes, 1 for no, anything else for an error.
        Exit answer = exec(List.of("dpkg", "--compare-versions", a, "gt", b), null, QUICK_TIMEOUT);
        if (answer.exit() > 1) {
            throw new IOException("dpkg cannot compare versions " + a + " and " + b + answer.errorTail());
        }
        return answer.exit() == 0;
    }

    /** Refreshes apt's package lists; needs root, like any apt-get update. */
    @Override
    public void refresh() throws IOException {
        progress.accept("running apt-get update (apt does not know the packages, or its lists are stale)");
        run(List.of("apt-get", "update"), null, DOWNLOAD_TIMEOUT);
    }

    static Map<String, String> firstRecord(String text) {
        Map<String, String> fields = new LinkedHashMap<>();
        String last = null;
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                if (!fields.isEmpty()) {
                    break;
                }
            } else if (Character.isWhitespace(line.charAt(0)) && last != null) {
                fields.put(last, fields.get(last) + "\n" + line.strip());
            } else if (line.indexOf(':') > 0) {
                last = line.substring(0, line.indexOf(':'));
                fields.put(last, line.substring(line.indexOf(':') + 1).strip());
            }
        }
        return fields;
    }

    static boolean checksumMatches(Package p, Path deb) throws IOException {
        if (p.sha256().isEmpty()) {
            return true; // a locally installed version without an archive entry: nothing to check against
        }
        return sha256(deb).equalsIgnoreCase(p.sha256().get());
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** Runs a command and returns its standard output; a failure names the command and its stderr's tail. */
    static String run(List<String> command, Path directory, Duration timeout) throws IOException {
        Exit exit = exec(command, directory, timeout);
        if (exit.exit() != 0) {
            String message = String.join(" ", command) + " failed (exit " + exit.exit() + ")" + exit.errorTail();
            throw command.get(0).startsWith("apt") ? new StaleListsException(message) : new IOException(message);
        }
        return exit.output();
    }

    /** How a command ended: its exit status, standard output and the tail of its standard error. */
    record Exit(int exit, String output, String errorTail) {}

    static Exit exec(List<String> command, Path directory, Duration timeout) throws IOException {
        Path out = Files.createTempFile("hypervise-cmd-", ".out");
        Path err = Files.createTempFile("hypervise-cmd-", ".err");
        String shown = String.join(" ", command);
        try {
            ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            if (directory != null) {
                builder.directory(directory.toFile());
            }
            builder.environment().put("LC_ALL", "C"); // messages we can quote and match, whatever the host's locale
            Process process;
            try {
                process = builder.start();
            } catch (IOException e) {
                throw new IOException("cannot run " + command.get(0) + " (building the tiny-linux template needs a Debian"
                        + " host with apt and dpkg): " + e.getMessage(), e);
            }
            boolean exited;
            try {
                exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while running " + shown, e);
            }
            if (!exited) {
                process.destroyForcibly();
                throw new IOException(shown + " did not finish within " + timeout.toMinutes() + " minutes" + tail(err));
            }
            return new Exit(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8), tail(err));
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    private static String tail(Path err) throws IOException {
        List<String> lines = Files.readAllLines(err, StandardCharsets.UTF_8).stream()
                // apt's note that it downloads as root rather than as _apt is noise, not the cause.
                .filter(l -> !l.contains("Download is performed unsandboxed")).toList();
        if (lines.isEmpty()) {
            return "";
        }
        return ": " + String.join("\n", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
    }

    static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // A leftover temporary file is harmless and must not hide the command's own result.
        }
    }
}
