package io.hypervise.engine.storage.vhd;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/** Raw test disks that look like used ones: runs of data, whole zero blocks, zero sectors inside data. */
final class Disks {

    static final int MIB = 1 << 20;

    private Disks() {
    }

    /**
     * A raw disk of {@code size} bytes: data in most of it, but the second 2 MiB block all zeros, and
     * zero sectors sprinkled in the rest.
     */
    static Path used(Path file, long size, long seed) throws IOException {
        byte[] bytes = new byte[Math.toIntExact(size)];
        Random random = new Random(seed);
        random.nextBytes(bytes);
        Arrays.fill(bytes, 2 * MIB, Math.min(bytes.length, 4 * MIB), (byte) 0);
        for (int sector = 0; sector < bytes.length / 512; sector += 1 + random.nextInt(7)) {
            Arrays.fill(bytes, sector * 512, Math.min(bytes.length, sector * 512 + 512), (byte) 0);
        }
        return Files.write(file, bytes);
    }

    /** Sectors the file really occupies on disk (from stat), to see that holes stayed holes. */
    static long allocatedBytes(Path file) throws IOException, InterruptedException {
        Process stat = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).start();
        try (InputStream out = stat.getInputStream()) {
            String[] fields = new String(out.readAllBytes()).trim().split(" ");
            stat.waitFor();
            return Long.parseLong(fields[0]) * Long.parseLong(fields[1]);
        }
    }

    /** The file's bytes followed by zeros up to {@code size}. */
    static byte[] padded(Path file, long size) throws IOException {
        return Arrays.copyOf(Files.readAllBytes(file), Math.toIntExact(size));
    }
}
