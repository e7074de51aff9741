package io.hypervise.bench.api;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Screen thumbnails as many open VM lists ask for them: {@code clients} viewers requesting
 * {@code GET /api/v1/vms/{vm}/screen.png?width=160} back to back, once with {@code maxAge=0} (every
 * request grabs a frame: what the server did before thumbnails were shared) and once with the default
 * (a frame at most 5 s old, grabbed once for everyone), in alternating rounds. Reports requests per
 * second, latency and the server's CPU per thumbnail, from /proc. Needs a running server
 * ({@code bin/hypervise up}).
 */
public final class ThumbnailBench {

    private static final double TICKS_PER_SECOND = 100;

    private ThumbnailBench() {
    }

    private record Result(String mode, int requests, double seconds, double serverCpuSeconds, List<Long> micros) {

        String row() {
            List<Long> sorted = new ArrayList<>(micros);
            Collections.sort(sorted);
            return String.format(Locale.ROOT, "| %s | %.1f | %.2f | %.1f | %.1f |", mode, requests / seconds,
                    serverCpuSeconds * 1000 / requests, percentile(sorted, 50) / 1000.0, percentile(sorted, 95) / 1000.0);
        }
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int clients = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        String vm = args.length > 2 ? args[2] : "demo";
        URI server = URI.create(System.getenv().getOrDefault("HYPERVISE_URL", "http://localhost:8080"));
        String realm = System.getenv().getOrDefault("HYPERVISE_REALM_URL", "http://127.0.0.1:8180/realms/hypervise");
        long serverPid = serverPid();
        HttpClient http = HttpClient.newHttpClient();
        Tokens tokens = new Tokens(http, realm);
        System.out.printf("thumbnails of VM '%s', %d clients, %d s a round, server pid %d%n", vm, clients, seconds, serverPid);
        List<Result> results = new ArrayList<>();
        for (int round = 0; round < 2; round++) {
            for (String maxAge : List.of("0", "")) {
                tokens.renewAll(Duration.ofSeconds(seconds + 30));
                results.add(run(http, tokens, server, vm, maxAge, clients, seconds, serverPid));
            }
        }
        System.out.println("| path | thumbnails/s | server CPU ms per thumbnail | p50 ms | p95 ms |");
        System.out.println("| --- | --- | --- | --- | --- |");
        results.forEach(r -> System.out.println(r.row()));
    }

    private static Result run(HttpClient http, Tokens tokens, URI server, String vm, String maxAge, int clients,
            int seconds, long serverPid) throws Exception {
        String query = "?width=160" + (maxAge.isEmpty() ? "" : "&maxAge=" + maxAge);
        URI uri = server.resolve("/api/v1/vms/" + vm + "/screen.png" + query);
        String bearer = tokens.bearer("admin");
        long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        double cpuBefore = cpuSeconds(serverPid);
        long start = System.nanoTime();
        List<Long> micros = Collections.synchronizedList(new ArrayList<>());
        try (ExecutorService pool = Executors.newFixedThreadPool(clients)) {
            List<Future<?>> all = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                all.add(pool.submit(() -> {
                    while (System.nanoTime() < end) {
                        long t0 = System.nanoTime();
                        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(uri).header("Authorization", bearer).build(),
                                HttpResponse.BodyHandlers.ofByteArray());
                        if (r.statusCode() != 200) {
                            throw new IllegalStateException("screen.png answered " + r.statusCode() + ": " + new String(r.body()));
                        }
                        micros.add((System.nanoTime() - t0) / 1000);
                    }
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get();
            }
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        String mode = maxAge.isEmpty() ? "shared (maxAge default 5 s)" : "every request grabs (maxAge=0)";
        return new Result(mode, micros.size(), elapsed, cpuSeconds(serverPid) - cpuBefore, micros);
    }

    private static long percentile(List<Long> sorted, int p) {
        return sorted.isEmpty() ? 0 : sorted.get(Math.max(0, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

    /** The server's user + system CPU so far, from /proc/PID/stat (fields 14 and 15, in clock ticks). */
    private static double cpuSeconds(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND;
    }

    /** The packaged Hypervise server's process (bin/hypervise up runs server/target/quarkus-app/quarkus-run.jar). */
    private static long serverPid() throws Exception {
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(x -> x.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline"))).replace('\0', ' ');
                    if (cmd.contains("server/target/quarkus-app/quarkus-run.jar")) {
                        return Long.parseLong(p.getFileName().toString());
                    }
                } catch (java.io.IOException vanished) {
                    // a process that ended while we looked
                }
            }
        }
        throw new IllegalStateException("no running Hypervise server found: start one with bin/hypervise up");
    }
}
