package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A loop device over a sparse file a test made (tests run as root), optionally with one partition
 * (an sfdisk layout; its node is /dev/loopNp1); detached, with its partitions, when closed. A file that
 * exists already keeps what it holds. Shared with the server's tests of pass-through disks.
 */
public final class LoopDevice implements AutoCloseable {

    private final Path device;
    private final boolean partitioned;

    private LoopDevice(Path device, boolean partitioned) {
        this.device = device;
        this.partitioned = partitioned;
    }

    public static LoopDevice over(Path file, long bytes) throws IOException, InterruptedException {
        try (var f = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE)) {
            f.truncate(bytes);
            f.write(java.nio.ByteBuffer.allocate(1), bytes - 1);
        }
        return new LoopDevice(Path.of(run(List.of("losetup", "-f", "--show", file.toString()), null).strip()), false);
    }

    /** With a DOS partition table of one partition over the first half, which the kernel lists. */
    public static LoopDevice partitioned(Path file, long bytes) throws IOException, InterruptedException {
        try (var f = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE)) {
            f.write(java.nio.ByteBuffer.allocate(1), bytes - 1);
        }
        run(List.of("sfdisk", "-q", file.toString()), "label: dos\n,%dM,L\n".formatted(bytes / 2 >> 20));
        LoopDevice loop = new LoopDevice(Path.of(run(List.of("losetup", "-f", "--show", "-P", file.toString()), null).strip()), true);
        // Some kernels do not scan a loop device's table on attach: ask for its partitions explicitly.
        if (!Files.exists(loop.partition())) {
            run(List.of("partx", "-a", loop.device.toString()), null);
        }
        for (int i = 0; i < 50 && !Files.exists(loop.partition()); i++) {
            TimeUnit.MILLISECONDS.sleep(100);
        }
        return loop;
    }

    public Path path() {
        return device;
    }

    public Path partition() {
        return Path.of(device + "p1");
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (partitioned) {
            try {
                run(List.of("partx", "-d", device.toString()), null);
            } catch (IOException e) {
                // losetup -d removes what is left
            }
        }
        run(List.of("losetup", "-d", device.toString()), null);
    }

    static String run(List<String> command, String input) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true).start();
        if (input != null) {
            p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(command + " failed: " + out);
        }
        return out;
    }
}
