package io.hypervise.engine.template;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the host's image tools (debootstrap, chroot, sfdisk, mke2fs, mtools, qemu-img) as processes with
 * argument lists, never through a shell. A failure names the command, its exit status and its stderr's
 * tail; a missing tool names the Debian package that brings it.
 */
final class HostTools {

    private final String purpose;

    /** @param purpose what the tools are run for, e.g. "building the debian-12 template", for messages */
    HostTools(String purpose) {
        this.purpose = purpose;
    }

    /** Runs the command and returns its standard output. */
    String run(Duration timeout, List<String> command) throws IOException {
        return run(timeout, command, null);
    }

    /** Runs the command with {@code input} on its standard input and returns its standard output. */
    String run(Duration timeout, List<String> command, String input) throws IOException {
        Path out = Files.createTempFile("hypervise-tool-", ".out");
        Path err = Files.createTempFile("hypervise-tool-", ".err");
        Path in = input == null ? null : Files.writeString(Files.createTempFile("hypervise-tool-", ".in"), input);
        String shown = String.join(" ", command);
        try {
            ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(in == null ? new File("/dev/null") : in.toFile()));
            builder.environment().put("LC_ALL", "C");
            // Package scripts run by debootstrap and in the chroot must never ask a question.
            builder.environment().put("DEBIAN_FRONTEND", "noninteractive");
            Process process;
            try {
                process = builder.start();
            } catch (IOException e) {
                throw new IOException("cannot run " + command.get(0) + " (" + purpose + " needs it; it comes with the Debian"
                        + " package " + packageOf(command.get(0)) + "): " + e.getMessage(), e);
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
                throw new IOException(shown + " did not finish within " + timeout.toMinutes() + " minutes" + tail(err, out));
            }
            if (process.exitValue() != 0) {
                throw new IOException(shown + " failed (exit " + process.exitValue() + ")" + tail(err, out));
            }
            return Files.readString(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
            if (in != null) {
                Files.deleteIfExists(in);
            }
        }
    }

    static String packageOf(String tool) {
        return switch (Path.of(tool).getFileName().toString()) {
            case "debootstrap" -> "debootstrap";
            case "sfdisk" -> "fdisk";
            case "mkfs.ext4", "mke2fs" -> "e2fsprogs";
            case "mformat", "mmd", "mcopy", "mdir" -> "mtools";
            case "qemu-img" -> "qemu-utils";
            case "chroot" -> "coreutils";
            default -> "that provides " + tool;
        };
    }

    /** The last lines of stderr, or of stdout when stderr is empty (debootstrap reports there). */
    private static String tail(Path err, Path out) throws IOException {
        List<String> lines = Files.readAllLines(err, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        }
        if (lines.isEmpty()) {
            return "";
        }
        return ": " + String.join("\n", lines.subList(Math.max(0, lines.size() - 12), lines.size()));
    }
}
