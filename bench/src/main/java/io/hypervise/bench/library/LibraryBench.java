package io.hypervise.bench.library;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The library's speed beside its references, reported as ratios. Needs a running server
 * ({@code bin/hypervise up}) on this machine.
 *
 * <ul>
 *   <li>Upload: one file of {@code gib} GiB (incompressible), copied locally with {@code cp}, uploaded with
 *       curl to a static file server (the JDK's, writing the body to disk: the least a server can do), and
 *       uploaded with curl to Hypervise over tus (one PATCH), then until the library item is ready (its
 *       import: format check, SHA-256, move into place).</li>
 *   <li>Deploy: a VM from that image as a linked clone (an overlay) against a full copy (a job).</li>
 * </ul>
 */
public final class LibraryBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    private LibraryBench() {
    }

    public static void main(String[] args) throws Exception {
        int gib = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        URI server = URI.create(System.getenv().getOrDefault("HYPERVISE_URL", "http://localhost:8080"));
        String realm = System.getenv().getOrDefault("HYPERVISE_REALM_URL", "http://127.0.0.1:8180/realms/hypervise");
        String work = System.getenv().getOrDefault("HYPERVISE_BENCH_DIR", "/tmp");
        HttpClient http = HttpClient.newHttpClient();
        Path dir = Files.createTempDirectory(Path.of(work), "hv-library-bench");
        try {
            Path file = dir.resolve("image.raw");
            long bytes = (long) gib << 30;
            write(file, bytes);
            System.out.printf(Locale.ROOT, "library bench: a %d GiB raw image, %s%n", gib, file);

            double cp = seconds(() -> run("cp", file.toString(), dir.resolve("copy.raw").toString()));
            Files.delete(dir.resolve("copy.raw"));
            double plain = staticUpload(file, dir.resolve("received.raw"));
            String token = token(http, realm);
            Upload up = tusUpload(http, server, token, file, bytes);
            System.out.println();
            System.out.println("| upload of " + gib + " GiB | seconds | MiB/s | ratio to cp | ratio to plain HTTP |");
            System.out.println("| --- | --- | --- | --- | --- |");
            row("cp (local copy)", cp, bytes, cp, plain);
            row("curl PUT to a static file server", plain, bytes, cp, plain);
            row("curl PATCH to Hypervise (tus), bytes in", up.received, bytes, cp, plain);
            row("... until the item is ready (import)", up.ready, bytes, cp, plain);

            double linked = deploy(http, server, token, up.item, "linked");
            double full = deploy(http, server, token, up.item, "full");
            System.out.println();
            System.out.println("| deploy from a " + gib + " GiB library image | seconds | ratio to full copy |");
            System.out.println("| --- | --- | --- |");
            System.out.printf(Locale.ROOT, "| linked clone | %.2f | %.3f |%n", linked, linked / full);
            System.out.printf(Locale.ROOT, "| full copy | %.2f | 1 |%n", full);
        } finally {
            run("rm", "-rf", dir.toString());
        }
    }

    private record Upload(double received, double ready, String item) {
    }

    private static void row(String what, double seconds, long bytes, double cp, double plain) {
        System.out.printf(Locale.ROOT, "| %s | %.2f | %.0f | %.2f | %.2f |%n", what, seconds, bytes / 1048576.0 / seconds,
                seconds / cp, seconds / plain);
    }

    /** Incompressible bytes (a repeated random MiB, each with its number), written once. */
    private static void write(Path file, long bytes) throws IOException {
        byte[] block = new byte[1 << 20];
        new Random(15).nextBytes(block);
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long i = 0; i < bytes >> 20; i++) {
                block[0] = (byte) i;
                block[1] = (byte) (i >> 8);
                out.write(block);
            }
        }
    }

    /** The reference server: the JDK's, writing a PUT's body to a file as it arrives. */
    private static double staticUpload(Path file, Path target) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        server.start();
        try {
            int port = server.getAddress().getPort();
            return seconds(() -> run("curl", "-sf", "-T", file.toString(), "http://127.0.0.1:" + port + "/image.raw"));
        } finally {
            server.stop(0);
            Files.deleteIfExists(target);
        }
    }

    private static Upload tusUpload(HttpClient http, URI server, String token, Path file, long bytes) throws Exception {
        String metadata = "name " + b64("bench image") + ",kind " + b64("disk") + ",visibility " + b64("admins");
        HttpResponse<String> created = http.send(HttpRequest.newBuilder(server.resolve("/api/v1/library/uploads"))
                .header("Authorization", "Bearer " + token).header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", Long.toString(bytes)).header("Upload-Metadata", metadata)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        if (created.statusCode() != 201) {
            throw new IllegalStateException("creating the upload: " + created.statusCode() + " " + created.body());
        }
        JsonNode upload = JSON.readTree(created.body());
        URI location = server.resolve(created.headers().firstValue("Location").orElseThrow());
        Path headers = Files.createTempFile("hv-bench", ".headers");
        long start = System.nanoTime();
        run("curl", "-sf", "-X", "PATCH", "-T", file.toString(), "-D", headers.toString(), "-H", "Authorization: Bearer " + token,
                "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream",
                location.toString());
        double received = (System.nanoTime() - start) / 1e9;
        String job = Files.readAllLines(headers).stream().filter(l -> l.toLowerCase(Locale.ROOT).startsWith("hypervise-job:"))
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElseThrow();
        Files.delete(headers);
        awaitJob(http, server, token, job);
        double ready = (System.nanoTime() - start) / 1e9;
        return new Upload(received, ready, upload.path("itemId").asText());
    }

    private static double deploy(HttpClient http, URI server, String token, String item, String clone) throws Exception {
        String body = "{\"name\":\"bench " + clone + "\",\"display\":\"none\",\"boot\":{\"kind\":\"disk\"},"
                + "\"disks\":[{\"library\":\"" + item + "\",\"clone\":\"" + clone + "\"}]}";
        long start = System.nanoTime();
        HttpResponse<String> created = http.send(HttpRequest.newBuilder(server.resolve("/api/v1/vms"))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        String vm;
        if (created.statusCode() == 202) {
            JsonNode job = JSON.readTree(created.body());
            awaitJob(http, server, token, "/api/v1/jobs/" + job.path("id").asText());
            vm = job.path("vmId").asText();
        } else if (created.statusCode() == 201) {
            vm = JSON.readTree(created.body()).path("id").asText();
        } else {
            throw new IllegalStateException("deploying: " + created.statusCode() + " " + created.body());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        http.send(HttpRequest.newBuilder(server.resolve("/api/v1/vms/" + URLEncoder.encode(vm, StandardCharsets.UTF_8)))
                .header("Authorization", "Bearer " + token).DELETE().build(), HttpResponse.BodyHandlers.discarding());
        return seconds;
    }

    static void awaitJob(HttpClient http, URI server, String token, String path) throws Exception {
        while (true) {
            JsonNode job = JSON.readTree(http.send(HttpRequest.newBuilder(server.resolve(path))
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString()).body());
            switch (job.path("state").asText()) {
                case "succeeded" -> {
                    return;
                }
                case "failed" -> throw new IllegalStateException("job " + path + " failed: " + job.path("error").asText());
                default -> TimeUnit.MILLISECONDS.sleep(50);
            }
        }
    }

    static String token(HttpClient http, String realm) throws Exception {
        String form = "grant_type=password&client_id=hypervise-cli&username=admin&password=admin";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(realm + "/protocol/openid-connect/token"))
                .header("Content-Type", "application/x-www-form-urlencoded").timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(r.body()).path("access_token").asText();
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private interface Step {
        void run() throws Exception;
    }

    private static double seconds(Step step) throws Exception {
        long start = System.nanoTime();
        step.run();
        return (System.nanoTime() - start) / 1e9;
    }

    private static void run(String... command) throws IOException, InterruptedException {
        List<String> c = new ArrayList<>(List.of(command));
        Process p = new ProcessBuilder(c).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command.length > 3 ? List.of(command[0], command[1]) : c) + " failed: " + out);
        }
    }
}
