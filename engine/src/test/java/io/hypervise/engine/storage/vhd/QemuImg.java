package io.hypervise.engine.storage.vhd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Debian's qemu-img 7.2, the reference our VHD code is checked against. Every call names its formats: qemu-img never probes. */
final class QemuImg {

    static final Path BINARY = Path.of("/usr/bin/qemu-img");

    private QemuImg() {
    }

    /** Fails, never skips, without it: bin/hypervise installs QEMU, so a missing qemu-img is a broken host. */
    static void requireInstalled() {
        assertThat(Files.isExecutable(BINARY)).as("qemu-img installed at " + BINARY + " (bin/hypervise installs it)").isTrue();
    }

    /** Runs qemu-img; returns its exit code and output. */
    static Result run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(BINARY.toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().close();
        byte[] output = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("qemu-img finished").isTrue();
        return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }

    /** Runs qemu-img and expects it to succeed. */
    static String ok(String... args) throws IOException, InterruptedException {
        Result result = run(args);
        assertThat(result.exitCode()).as("qemu-img %s: %s", String.join(" ", args), result.output()).isZero();
        return result.output();
    }

    static void toVhd(Path raw, Path vhd, String subformat) throws IOException, InterruptedException {
        ok("convert", "-f", "raw", "-O", "vpc", "-o", "subformat=" + subformat, raw.toString(), vhd.toString());
    }

    static void toRaw(Path vhd, Path raw) throws IOException, InterruptedException {
        ok("convert", "-f", "vpc", "-O", "raw", vhd.toString(), raw.toString());
    }

    /** The virtual size qemu-img reports for a VHD. */
    static long virtualSize(Path vhd) throws IOException, InterruptedException {
        String json = ok("info", "-f", "vpc", "--output=json", vhd.toString());
        Matcher m = Pattern.compile("\"virtual-size\":\\s*(\\d+)").matcher(json);
        assertThat(m.find()).as(json).isTrue();
        return Long.parseLong(m.group(1));
    }

    record Result(int exitCode, String output) {
    }
}
