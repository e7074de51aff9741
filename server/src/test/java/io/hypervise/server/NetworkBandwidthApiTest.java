package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.nullValue;

import io.hypervise.engine.Engine;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.server.access.Caller;
import io.hypervise.server.network.Switches;
import io.hypervise.server.template.Templates;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Network bandwidth limits on a VM's switch ports, measured where a user would look: inside the guest, whose
 * tiny-linux prints what its adapter has received ("hv-rx eth0 BYTES UPTIME") while the host floods it over an
 * internal switch. A receive limit holds the guest to it; raised while it runs, the guest gets more; lifted, it is
 * not held back. An adapter hot-added gets the limit, one removed leaves nothing behind, and a restored VM's new
 * port has it again. Bad values, and a transmit limit where this host's kernel cannot police, are refused naming
 * the field (with the host's reason), the VM running on unchanged. The VM's page and its dialog show the limits.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NetworkBandwidthApiTest {

    private static final Pattern HV_RX = Pattern.compile("hv-rx eth0 (\\d+) (\\d+(?:\\.\\d+)?)");
    /** What the host sends: five times the first limit, well under what a TCG guest takes in. */
    private static final long FLOOD_BITS_PER_SECOND = 10_000_000;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @Inject
    Switches switches;

    @Inject
    Templates templates;

    @TestHTTPResource("/")
    URL url;

    private final String switchId = "bw" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 5);
    private final String subnet = "10.209." + ThreadLocalRandom.current().nextInt(256) + ".";
    private String vm;

    @AfterAll
    void removeTheVmAndTheSwitch() {
        if (vm != null && engine.vms().find(vm).isPresent()) {
            if (engine.vms().status(vm).state() != VmState.OFF) {
                engine.vms().turnOff(vm);
            }
            vms.delete(Caller.host(), vm);
        }
        if (switches.find(switchId).isPresent()) {
            switches.delete(switchId, Caller.host());
        }
    }

    @Test
    void aReceiveLimitHoldsWhatReachesTheGuestFollowsItsPortsAndChangesWhileItRuns() throws Exception {
        as("admin").contentType("application/json").body("{\"id\":\"" + switchId + "\",\"name\":\"Bandwidth\","
                + "\"kind\":\"internal\",\"hostAddress\":\"" + subnet + "1/24\"}").when().post("/api/v1/switches")
                .then().statusCode(201);
        String guest = subnet + "2";
        BootSource.Kernel tiny = (BootSource.Kernel) templates.bootSource(templates.find(Templates.TINY_LINUX).orElseThrow());
        Path root = engine.storage().path();
        String definition = """
                {"name":"limited","display":"none","memoryMib":160,"vcpus":1,
                 "boot":{"kind":"kernel","kernel":"%s","initramfs":"%s","commandLine":"%s hv.ip=eth0,%s/24"},
                 "nics":[{"switch":"%s"}], "resources":%%s}""".formatted(root.relativize(tiny.kernel()),
                root.relativize(tiny.initramfs()), tiny.commandLine(), guest, switchId);

        // Bad input first: refused naming the field, nothing made.
        as("admin").contentType("application/json").body(definition.formatted("{\"networkReceiveBitsPerSecond\":1000}"))
                .when().post("/api/v1/vms").then().statusCode(400)
                .body("violations[0].field", equalTo("resources.networkReceiveBitsPerSecond"))
                .body("violations[0].message", containsString("64 kbit/s"));
        String transmitWhyNot = as("admin").when().get("/api/v1/host").then().statusCode(200)
                .body("resourceControl.networkReceiveUnavailable", nullValue())
                .extract().path("resourceControl.networkTransmitUnavailable");

        vm = as("admin").contentType("application/json").body(definition.formatted("{\"networkReceiveBitsPerSecond\":2000000}"))
                .when().post("/api/v1/vms").then().statusCode(201)
                .body("resources.networkReceiveBitsPerSecond", equalTo(2_000_000)).extract().path("id");
        awaitJob(as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202).extract().path("id"));
        awaitSerial(vm, "hv-ip eth0 " + guest + "/24");
        awaitSerial(vm, "HYPERVISE-READY");
        String port = VirtualSwitches.portName(vm, 0);
        assertThat(tc("qdisc", "show", "dev", port)).as("the port's qdiscs").contains("tbf").contains("rate 2Mbit");

        double limited = receivedBitsPerSecond(vm, guest);
        assertThat(limited).as("bits per second the guest received under a 2 Mbit/s limit").isBetween(1.8e6, 2.2e6);

        // Bad changes while it runs: refused naming the field; the limit stays.
        put(vm, "{\"networkReceiveBitsPerSecond\":1}").statusCode(400)
                .body("violations[0].field", equalTo("resources.networkReceiveBitsPerSecond"));
        put(vm, "{\"networkReceiveBitsPerSecond\":200000000000}").statusCode(400)
                .body("violations[0].field", equalTo("resources.networkReceiveBitsPerSecond"));
        put(vm, "{\"networkReceiveBitsPerSecond\":\"fast\"}").statusCode(400);
        if (transmitWhyNot != null) {
            put(vm, "{\"networkReceiveBitsPerSecond\":2000000,\"networkTransmitBitsPerSecond\":1000000}").statusCode(400)
                    .body("violations[0].field", equalTo("resources.networkTransmitBitsPerSecond"))
                    .body("violations[0].message", containsString(transmitWhyNot));
        }
        as("admin").when().get("/api/v1/vms/" + vm + "/resources").then().statusCode(200)
                .body("networkReceiveBitsPerSecond", equalTo(2_000_000)).body("networkTransmitBitsPerSecond", nullValue());
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Running"));
        assertThat(tc("qdisc", "show", "dev", port)).contains("rate 2Mbit").doesNotContain("ingress");

        // An adapter hot-added gets the limit before the guest sees it; removed, its port leaves nothing behind.
        String mac = "52:54:00:b0:00:01";
        as("admin").contentType("application/json").body("{\"switch\":\"" + switchId + "\",\"mac\":\"" + mac + "\"}")
                .when().post("/api/v1/vms/" + vm + "/nics").then().statusCode(200).body("nics.size()", equalTo(2));
        awaitSerial(vm, "hv-nic eth1 " + mac);
        String added = VirtualSwitches.portName(vm, 1);
        assertThat(tc("qdisc", "show", "dev", added)).as("the hot-added adapter's port").contains("rate 2Mbit");
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/1").then().statusCode(200).body("nics.size()", equalTo(1));
        awaitSerial(vm, "hv-nic-gone eth1");
        assertThat(Path.of("/sys/class/net", added)).as("the removed adapter's port").doesNotExist();
        assertThat(tc("qdisc", "show")).as("every qdisc of the host").doesNotContain(added);

        // Saved and restored: a new worker, a new port, the same limit, before the guest runs again.
        awaitJob(as("admin").when().post("/api/v1/vms/" + vm + "/save").then().statusCode(202).extract().path("id"));
        assertThat(Path.of("/sys/class/net", port)).as("the port of a saved VM").doesNotExist();
        awaitJob(as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202).extract().path("id"));
        assertThat(tc("qdisc", "show", "dev", port)).as("the restored VM's port").contains("rate 2Mbit");

        // Raised while it runs: the guest gets more at once.
        put(vm, "{\"networkReceiveBitsPerSecond\":4000000}").statusCode(200).body("state", equalTo("Running"));
        assertThat(tc("qdisc", "show", "dev", port)).contains("rate 4Mbit");
        double raised = receivedBitsPerSecond(vm, guest);
        assertThat(raised).as("bits per second the guest received once the limit was raised to 4 Mbit/s").isBetween(3.6e6, 4.4e6);

        // Lifted: nothing holds it back.
        put(vm, "{}").statusCode(200).body("resources.networkReceiveBitsPerSecond", nullValue());
        assertThat(tc("qdisc", "show", "dev", port)).doesNotContain("tbf");
        double free = receivedBitsPerSecond(vm, guest);
        assertThat(free).as("bits per second the guest received with no limit, the host sending %d", FLOOD_BITS_PER_SECOND)
                .isGreaterThan(0.7 * FLOOD_BITS_PER_SECOND);
        System.out.printf("network bandwidth: the guest received %.2f Mbit/s under 2 Mbit/s, %.2f under 4, %.2f with no"
                + " limit (sent: %d)%n", limited / 1e6, raised / 1e6, free / 1e6, FLOOD_BITS_PER_SECOND / 1_000_000);

        // The page: the block and the dialog show the limits; the dialog sets them in Mbit/s.
        String base = "http://127.0.0.1:" + url.getPort();
        HttpBrowser admin = new HttpBrowser();
        assertThat(admin.signIn(base, "admin", "admin").statusCode()).isEqualTo(200);
        HttpResponse<String> set = admin.sendWith("POST", URI.create(base + "/ui/vms/" + vm + "/resources"),
                HttpRequest.BodyPublishers.ofString("networkReceiveMbitPerSecond=0.5"),
                Map.of("HX-Request", "true", "Content-Type", "application/x-www-form-urlencoded"));
        assertThat(set.statusCode()).as(set.body()).isLessThan(300);
        as("admin").when().get("/api/v1/vms/" + vm + "/resources").then().body("networkReceiveBitsPerSecond", equalTo(500_000));
        assertThat(tc("qdisc", "show", "dev", port)).contains("rate 500Kbit");
        assertThat(admin.get(URI.create(base + "/admin/vms/" + vm)).body()).contains("<dt>Network receive</dt><dd>at most 500 kbit/s");
        String dialog = admin.get(URI.create(base + "/ui/vms/" + vm + "/resources")).body();
        assertThat(dialog).contains("name=\"networkReceiveMbitPerSecond\"").contains("value=\"0.5\"");
        if (transmitWhyNot != null) {
            assertThat(dialog).contains("This host cannot limit what VMs send: " + transmitWhyNot.replace("'", "&#39;"))
                    .containsPattern("name=\"networkTransmitMbitPerSecond\"[^>]* disabled>");
        }

        as("auditor").queryParam("action", "vm.resources").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED")).body("items.outcome", hasItem("FAILED"));
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        assertThat(Path.of("/sys/class/net", port)).doesNotExist();
        assertThat(tc("qdisc", "show")).doesNotContain(port);
    }

    private static io.restassured.response.ValidatableResponse put(String vm, String body) {
        return as("admin").contentType("application/json").body(body).when().put("/api/v1/vms/" + vm + "/resources").then();
    }

    /**
     * Floods the guest with UDP from the host for 9 s at {@link #FLOOD_BITS_PER_SECOND} and returns the rate its
     * adapter received, from its own counter: the first two seconds' lines (ARP, a full bucket) and the last (the
     * flood ending within it) left out.
     */
    private static double receivedBitsPerSecond(String vm, String guest) throws Exception {
        int from = serial(vm).split("\n").length;
        byte[] payload = new byte[1400];
        long sent = 0;
        try (DatagramSocket socket = new DatagramSocket()) {
            DatagramPacket packet = new DatagramPacket(payload, payload.length, InetAddress.getByName(guest), 9);
            long start = System.nanoTime();
            long end = start + TimeUnit.SECONDS.toNanos(9);
            for (long now = start; now < end; now = System.nanoTime()) {
                if (sent * 8 * 1e9 / FLOOD_BITS_PER_SECOND > now - start) {
                    TimeUnit.MICROSECONDS.sleep(500);
                    continue;
                }
                socket.send(packet);
                sent += payload.length + 42; // with UDP, IPv4 and Ethernet headers: the bits on the wire
            }
        }
        TimeUnit.SECONDS.sleep(2); // the guest's next line
        List<double[]> samples = new ArrayList<>();
        String[] lines = serial(vm).split("\n");
        for (int k = Math.min(from, lines.length); k < lines.length; k++) {
            Matcher m = HV_RX.matcher(lines[k]);
            if (m.matches()) {
                samples.add(new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))});
            }
        }
        assertThat(samples).as("the guest's hv-rx lines while the host sent to it").hasSizeGreaterThanOrEqualTo(6);
        double[] first = samples.get(2);
        double[] last = samples.get(samples.size() - 2);
        return (last[0] - first[0]) * 8 / (last[1] - first[1]);
    }

    private static String tc(String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("tc"));
        argv.addAll(List.of(args));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", argv) + ": " + out).isZero();
        return out;
    }

    private static String serial(String vm) {
        return as("admin").when().get("/api/v1/vms/" + vm + "/serial?lines=10000").then().statusCode(200).extract().asString();
    }

    private static void awaitJob(String job) throws InterruptedException {
        for (int i = 0; i < 1200; i++) {
            String state = as("admin").when().get("/api/v1/jobs/" + job).then().statusCode(200).extract().path("state");
            if (state.equals("succeeded")) {
                return;
            }
            assertThat(state).as("job " + job).isNotEqualTo("failed");
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new AssertionError("job " + job + " did not end within two minutes");
    }

    private static void awaitSerial(String vm, String marker) throws InterruptedException {
        String serial = "";
        for (int i = 0; i < 400; i++) {
            serial = serial(vm);
            if (serial.lines().anyMatch(l -> l.equals(marker))) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(300);
        }
        throw new AssertionError("the guest of " + vm + " did not print '" + marker + "'; its serial console:\n" + serial);
    }
}
