package io.hypervise.bench.console;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The console's cost: two RFB viewers of one VM in the same time window, one straight on QEMU's
 * display socket, one through the server's console WebSocket (signed in through Keycloak's form, as
 * a browser is), each asking for incremental updates back to back while the guest's screen scrolls.
 * Reports updates/s, bytes/s and request-to-update latency of each, and the ratios.
 *
 * <p>Needs a running server ({@code bin/hypervise up}) with a running VM (the demo VM by default).
 */
public final class ConsoleBench {

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        String vm = args.length > 1 ? args[1] : "demo";
        boolean raw = args.length > 2 && args[2].equals("raw");
        URI server = URI.create(System.getenv().getOrDefault("HYPERVISE_URL", "http://localhost:8080"));
        Path dataDir = Path.of(System.getenv().getOrDefault("HYPERVISE_DATA_DIR", "data"));
        String user = System.getenv().getOrDefault("HYPERVISE_USER", "admin");
        Path socket = dataDir.resolve("state/vms/" + vm + "/vnc.sock");
        if (!Files.exists(socket)) {
            throw new IllegalStateException(socket + " does not exist: start the server (bin/hypervise up) and VM '" + vm + "'");
        }
        LoopbackCookies cookies = new LoopbackCookies();
        HttpClient http = HttpClient.newBuilder().cookieHandler(cookies).followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(10)).build();
        BrowserSignIn.signIn(http, server.resolve("/console/" + vm), user);

        try (RfbTransport directLink = RfbTransport.direct(socket);
                RfbTransport serverLink = RfbTransport.webSocket(http, cookies, server, vm)) {
            RfbBenchClient direct = new RfbBenchClient(directLink, raw);
            RfbBenchClient through = new RfbBenchClient(serverLink, raw);
            direct.handshake();
            through.handshake();
            Activity.start(direct);
            Thread.sleep(1000); // the loop is running and scrolling
            long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
            long directStart = direct.received();
            long throughStart = through.received();
            // A thread each (not the common pool: it may have one thread on two cores, and run them in turn).
            Thread a = Thread.ofPlatform().name("direct").start(() -> run(direct, deadline));
            Thread b = Thread.ofPlatform().name("through-server").start(() -> run(through, deadline));
            a.join();
            b.join();
            Activity.stop(direct);
            System.out.printf("encoding: %s%n", raw ? "raw" : "ZRLE");
            report(seconds, new Result("direct (unix socket)", direct.latenciesNanos, direct.received() - directStart),
                    new Result("through the server (WebSocket)", through.latenciesNanos, through.received() - throughStart));
        }
    }

    private static void run(RfbBenchClient client, long deadline) {
        try {
            client.run(deadline);
        } catch (IOException e) {
            throw new IllegalStateException("the viewer failed: " + e.getMessage(), e);
        }
    }

    record Result(String path, List<Long> latencies, long bytes) {
        double percentileMillis(double p) {
            List<Long> sorted = new ArrayList<>(latencies);
            Collections.sort(sorted);
            return sorted.isEmpty() ? Double.NaN : sorted.get((int) Math.min(sorted.size() - 1, p * sorted.size())) / 1e6;
        }
    }

    private static void report(int seconds, Result direct, Result through) {
        System.out.printf("%d s, both viewers at once, the guest's screen scrolling%n%n", seconds);
        System.out.printf("| path | updates/s | KiB/s | latency p50 | latency p95 |%n| --- | --- | --- | --- | --- |%n");
        for (Result r : List.of(direct, through)) {
            System.out.printf("| %s | %.1f | %.1f | %.1f ms | %.1f ms |%n", r.path(), r.latencies().size() / (double) seconds,
                    r.bytes() / 1024.0 / seconds, r.percentileMillis(0.5), r.percentileMillis(0.95));
        }
        System.out.printf("| ratio server / direct | %.2f | %.2f | %+.1f ms | %+.1f ms |%n",
                through.latencies().size() / (double) direct.latencies().size(), through.bytes() / (double) direct.bytes(),
                through.percentileMillis(0.5) - direct.percentileMillis(0.5),
                through.percentileMillis(0.95) - direct.percentileMillis(0.95));
    }

    /** The guest's shell prints the date in a loop on its screen: a screen that changes all the time. */
    static final class Activity {
        static final int XK_RETURN = 0xff0d;
        static final int XK_SHIFT_L = 0xffe1;
        static final int XK_CONTROL_L = 0xffe3;

        static void start(RfbBenchClient client) throws IOException {
            type(client, "while true; do date; done\n");
        }

        static void stop(RfbBenchClient client) throws IOException {
            client.key(XK_CONTROL_L, true);
            press(client, 'c');
            client.key(XK_CONTROL_L, false);
            type(client, "clear\n");
        }

        private static void type(RfbBenchClient client, String text) throws IOException {
            for (char c : text.toCharArray()) {
                if (c == '\n') {
                    client.key(XK_RETURN, true);
                    client.key(XK_RETURN, false);
                } else {
                    press(client, c);
                }
            }
        }

        private static void press(RfbBenchClient client, char c) throws IOException {
            client.key(c, true);
            client.key(c, false);
        }
    }
}
