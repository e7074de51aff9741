package io.hypervise.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.hypervise.server.testing.HostNetwork;
import io.hypervise.server.testing.PackagedServer;
import io.hypervise.server.testing.TwoHosts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two hosts, each a real server with its own engine and data in a network namespace of its own, on its own
 * address ({@link HostNetwork}): the second joins the first's PostgreSQL, which listens on the first host's
 * address. Each records what is its own (template files in its own library), creates VMs on itself without
 * disturbing the other, and refuses to delete a VM the other host runs, saying which host does (lifecycle
 * operations and the serial console are passed on to the owner: ClusterRoutingIT). Each sees both
 * hosts' leases, at their addresses. A host cut off from the network loses its lease as the other sees it, says
 * so itself, and has it again once plugged back; when one server dies, the other sees its lease expire and may
 * remove it.
 */
class TwoServersIT {

    private TwoHosts cluster;
    private String urlA;
    private String urlB;

    @AfterEach
    void cleanUp() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void eachHostActsOnItsOwnVmsAndNeitherRewritesWhatIsTheOthers() throws Exception {
        cluster = TwoHosts.start(List.of(), List.of());
        HostNetwork.Host hostB = cluster.hostB;
        Path dataB = cluster.dataB;
        PackagedServer a = cluster.a();
        PackagedServer b = cluster.b();
        urlA = cluster.urlA;
        urlB = cluster.urlB;

        // Each server answers for the whole cluster: both hosts hold live leases, each joined once, each reachable,
        // each lease row naming its host's own namespace address.
        for (String url : new String[] {urlA, urlB}) {
            JsonNode hosts = call(url, "GET", "/api/v1/hosts", 200).path("items");
            assertThat(hosts).as("hosts seen by the server at %s", url).hasSize(2);
            for (JsonNode host : hosts) {
                String id = host.path("id").asText();
                assertThat(host.path("lease").path("state").asText()).as("%s's lease", id).isEqualTo("live");
                assertThat(host.path("lease").path("epoch").asLong()).as("%s's epoch", id).isEqualTo(1);
                assertThat(host.path("address").asText()).isEqualTo(id.equals("host-a") ? urlA : urlB);
            }
        }

        // Creations on both hosts, interleaved, all succeed; the shared template stays ready on both.
        String a1 = create(urlA, "on-a-1");
        String b1 = create(urlB, "on-b-1");
        String a2 = create(urlA, "on-a-2");
        String b2 = create(urlB, "on-b-2");
        for (String url : new String[] {urlA, urlB}) {
            JsonNode template = call(url, "GET", "/api/v1/templates/tiny-linux", 200);
            assertThat(template.path("ready").asBoolean()).as("tiny-linux ready on the server at %s", url).isTrue();
        }
        assertThat(call(urlA, "GET", "/api/v1/vms/" + b1, 200).path("name").asText()).isEqualTo("on-b-1");
        Path diskB1 = Path.of(call(urlB, "GET", "/api/v1/vms/" + b1, 200).path("disks").path(0).path("path").asText());
        assertThat(diskB1).isRegularFile().startsWith(dataB);

        // Host A's server does not delete host B's VM (only lifecycle operations and the serial console are passed
        // on to the owner's server: ClusterRoutingIT): it says which host has it, and changes nothing.
        for (String[] request : new String[][] {{"DELETE", "/api/v1/vms/" + b1}}) {
            JsonNode refused = call(urlA, request[0], request[1], 409);
            assertThat(refused.path("detail").asText()).as("%s %s", request[0], request[1])
                    .contains("is on host host-b", "not on host-a");
        }
        assertThat(call(urlB, "GET", "/api/v1/vms/" + b1, 200).path("state").asText()).isEqualTo("Off");
        assertThat(diskB1).isRegularFile();

        // Each host's own server deletes its own VMs, disks and all.
        for (String[] vm : new String[][] {{"A", a1}, {"A", a2}, {"B", b1}, {"B", b2}}) {
            call(vm[0].equals("A") ? urlA : urlB, "DELETE", "/api/v1/vms/" + vm[1], 204);
        }
        assertThat(diskB1).doesNotExist();
        assertThat(a.output() + b.output()).doesNotContain("OptimisticLock", "unexpected error");

        // Host B's cable is pulled while its server runs: A sees B's lease expire by the database's clock, and B
        // says in its log that it cannot renew. Plugged back, B renews the same lease (same epoch): live again.
        hostB.cutLink();
        awaitLease(urlA, "host-b", "expired", Duration.ofSeconds(40));
        awaitOutput(b, "host 'host-b' could not renew its lease (epoch 1", Duration.ofSeconds(20));
        hostB.restoreLink();
        awaitLease(urlA, "host-b", "live", Duration.ofSeconds(60));
        JsonNode own = call(urlB, "GET", "/api/v1/hosts/host-b", 200);
        assertThat(own.path("membership").path("state").asText()).as("B's own account: %s", own).isEqualTo("live");
        assertThat(own.path("lease").path("epoch").asLong()).isEqualTo(1);
        assertThat(b.outputSinceStart()).contains("host 'host-b' renewed its lease again after").doesNotContain("LOST ITS LEASE");

        // Host B's server dies: A sees its lease expire by the database's clock (10 s after its last renewal),
        // refuses to remove it while it was live, and removes it once expired; B's row stays, as left.
        assertThat(call(urlA, "DELETE", "/api/v1/hosts/host-b", 409).path("detail").asText())
                .startsWith("host 'host-b' holds a live lease");
        b.kill();
        awaitLease(urlA, "host-b", "expired", Duration.ofSeconds(30));
        call(urlA, "DELETE", "/api/v1/hosts/host-b", 204);
        JsonNode left = call(urlA, "GET", "/api/v1/hosts/host-b", 200).path("lease");
        assertThat(left.path("state").asText()).isEqualTo("left");
        assertThat(left.path("epoch").asLong()).isEqualTo(2);
        assertThat(call(urlA, "GET", "/api/v1/hosts/host-a", 200).path("lease").path("state").asText()).isEqualTo("live");
    }

    private static void awaitOutput(PackagedServer server, String text, Duration patience) throws Exception {
        long deadline = System.nanoTime() + patience.toNanos();
        while (!server.outputSinceStart().contains(text)) {
            assertThat(System.nanoTime()).as("the server said '%s' within %s; it said:%n%s", text, patience,
                    server.outputSinceStart()).isLessThan(deadline);
            Thread.sleep(500);
        }
    }

    private String create(String url, String name) throws Exception {
        return call(url, "POST", "/api/v1/vms", 201, "{\"template\":\"tiny-linux\",\"name\":\"" + name
                + "\",\"disks\":[{\"sizeMib\":16,\"format\":\"qcow2\"}]}").path("id").asText();
    }

    private JsonNode call(String url, String method, String path, int expected) throws Exception {
        return cluster.call(url, method, path, expected);
    }

    private JsonNode call(String url, String method, String path, int expected, String body) throws Exception {
        return cluster.call(url, method, path, expected, body);
    }

    private void awaitLease(String url, String host, String state, Duration patience) throws Exception {
        cluster.awaitLease(url, host, state, patience);
    }
}
