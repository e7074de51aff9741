package io.hypervise.bench.library;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.engine.template.DebianTemplate;
import io.hypervise.engine.template.NoCloudSeed;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The debian-12 template from start to its login prompt, through Hypervise (a VM from the template with
 * a host name, started over the API, its serial console read over the API) against the same disk and seed
 * under a bare {@code qemu-system-x86_64} command line, as one would type it. Needs a running server
 * ({@code bin/hypervise up}); builds the template through the API first if need be.
 */
public final class DebianBootBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    private DebianBootBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        URI server = URI.create(System.getenv().getOrDefault("HYPERVISE_URL", "http://localhost:8080"));
        String realm = System.getenv().getOrDefault("HYPERVISE_REALM_URL", "http://127.0.0.1:8180/realms/hypervise");
        Path cache = Path.of(System.getProperty("user.home"), ".cache", "hypervise");
        HttpClient http = HttpClient.newHttpClient();
        String token = LibraryBench.token(http, realm);
        LibraryBench.awaitJob(http, server, token, "/api/v1/jobs/" + JSON.readTree(http.send(HttpRequest.newBuilder(
                server.resolve("/api/v1/templates/debian-12/build")).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).body()).path("id").asText());
        DebianTemplate.Built template = DebianTemplate.ensure(cache.resolve("library"), cache.resolve("downloads"), line -> { });
        Path dir = Files.createTempDirectory("hv-debian-bench");
        List<Double> bare = new ArrayList<>();
        List<Double> hypervise = new ArrayList<>();
        try {
            for (int round = 0; round < rounds; round++) {
                bare.add(bare(template.disk(), dir, "bare-" + round));
                hypervise.add(throughHypervise(http, server, LibraryBench.token(http, realm), "hv-" + round));
            }
        } finally {
            new ProcessBuilder("rm", "-rf", dir.toString()).start().waitFor();
        }
        System.out.println();
        System.out.println("| debian-12, start to the login prompt (TCG) | seconds, each round | ratio to bare QEMU |");
        System.out.println("| --- | --- | --- |");
        double bareMean = bare.stream().mapToDouble(d -> d).average().orElseThrow();
        double hvMean = hypervise.stream().mapToDouble(d -> d).average().orElseThrow();
        System.out.printf(Locale.ROOT, "| bare qemu-system-x86_64 | %s | 1 |%n", list(bare));
        System.out.printf(Locale.ROOT, "| Hypervise (API: create, start, serial) | %s | %.2f |%n", list(hypervise), hvMean / bareMean);
    }

    private static String list(List<Double> values) {
        return String.join(", ", values.stream().map(v -> String.format(Locale.ROOT, "%.1f", v)).toList());
    }

    /** The same disk (an overlay on the template, as Hypervise makes) and a seed, by hand, BIOS, the same devices. */
    private static double bare(Path template, Path dir, String host) throws Exception {
        Path disk = dir.resolve(host + ".qcow2");
        Path seed = dir.resolve(host + "-seed.img");
        Path log = dir.resolve(host + ".log");
        run("qemu-img", "create", "-q", "-f", "qcow2", "-b", template.toString(), "-F", "qcow2", disk.toString());
        NoCloudSeed.of(host, Optional.empty()).writeVfat(seed);
        long start = System.nanoTime();
        Process qemu = new ProcessBuilder("qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-m", "512",
                "-nodefaults", "-display", "none", "-chardev", "file,id=s0,path=" + log, "-serial", "chardev:s0",
                "-drive", "file=" + disk + ",format=qcow2,if=virtio", "-drive", "file=" + seed + ",format=raw,if=virtio",
                "-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0")
                .redirectErrorStream(true).redirectOutput(dir.resolve(host + ".out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            while (!Files.exists(log) || !Files.readString(log).contains(host + " login:")) {
                if (System.nanoTime() - start > Duration.ofMinutes(8).toNanos()) {
                    throw new IllegalStateException("bare QEMU: no login prompt within 8 minutes");
                }
                TimeUnit.MILLISECONDS.sleep(200);
            }
            return (System.nanoTime() - start) / 1e9;
        } finally {
            qemu.destroyForcibly().waitFor();
        }
    }

    private static double throughHypervise(HttpClient http, URI server, String token, String host) throws Exception {
        String body = "{\"template\":\"debian-12\",\"name\":\"bench " + host + "\",\"display\":\"none\",\"guest\":{\"hostName\":\"" + host + "\"}}";
        long start = System.nanoTime();
        JsonNode vm = JSON.readTree(send(http, server, token, "POST", "/api/v1/vms", body));
        String id = vm.path("id").asText();
        try {
            send(http, server, token, "POST", "/api/v1/vms/" + id + "/start", null);
            while (!send(http, server, token, "GET", "/api/v1/vms/" + id + "/serial?lines=50", null).contains(host + " login:")) {
                if (System.nanoTime() - start > Duration.ofMinutes(8).toNanos()) {
                    throw new IllegalStateException("Hypervise: no login prompt within 8 minutes");
                }
                TimeUnit.MILLISECONDS.sleep(200);
            }
            return (System.nanoTime() - start) / 1e9;
        } finally {
            send(http, server, token, "POST", "/api/v1/vms/" + id + "/turn-off", null);
            send(http, server, token, "DELETE", "/api/v1/vms/" + id, null);
        }
    }

    private static String send(HttpClient http, URI server, String token, String method, String path, String json) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.resolve(path)).header("Authorization", "Bearer " + token);
        request = json == null ? request.method(method, HttpRequest.BodyPublishers.noBody())
                : request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + ": " + out);
        }
    }
}
