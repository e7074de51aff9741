package io.hypervise.bench.api;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server's memory as its JVM and the kernel report it: the heap's used and committed size (jcmd
 * GC.heap_info), the resident set and the number of threads (/proc/PID/status).
 */
record ServerMemory(long heapUsedKib, long heapCommittedKib, long residentKib, int threads) {

    private static final Pattern HEAP = Pattern.compile("committed (\\d+)K, used (\\d+)K");

    /** As it is now. */
    static ServerMemory of(long pid) throws IOException, InterruptedException {
        Matcher heap = HEAP.matcher(jcmd(pid, "GC.heap_info"));
        if (!heap.find()) {
            throw new IOException("jcmd GC.heap_info of " + pid + " did not say the heap's size");
        }
        String status = Files.readString(Path.of("/proc", Long.toString(pid), "status"));
        return new ServerMemory(Long.parseLong(heap.group(2)), Long.parseLong(heap.group(1)), field(status, "VmRSS"),
                (int) field(status, "Threads"));
    }

    /** After a full collection: what the server really keeps. */
    static ServerMemory afterFullCollection(long pid) throws IOException, InterruptedException {
        jcmd(pid, "GC.run");
        return of(pid);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "heap used %.1f MiB of %.1f MiB committed; resident %.1f MiB; %d threads",
                heapUsedKib / 1024.0, heapCommittedKib / 1024.0, residentKib / 1024.0, threads);
    }

    private static long field(String status, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + ":\\s+(\\d+)").matcher(status);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private static String jcmd(long pid, String command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(pid),
                command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("jcmd " + pid + " " + command + " failed: " + out);
        }
        return out;
    }
}
