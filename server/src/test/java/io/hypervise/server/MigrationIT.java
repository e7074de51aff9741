package io.hypervise.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.hypervise.server.testing.HostNetwork;
import io.hypervise.server.testing.PackagedServer;
import io.hypervise.server.testing.Tokens;
import io.hypervise.server.testing.TwoHosts;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Live migration between two hosts, each a real server in a network namespace of its own ({@link HostNetwork}): a
 * guest booted once on host A is moved to host B through A's API, as a job on A. Refusals come first, with the guest
 * running on at A: to A itself, to a host the cluster does not have, to a host whose lease has expired. Then the move: the job succeeds naming B and the
 * downtime; the same guest counts on at B (its serial counter continues, no second boot); the inventory names B; A
 * runs no worker for it; the log has the intent and the outcome. Around the move, the failures of a migration's two
 * sides: a source that goes quiet after B prepared to receive (B gives the arrival up after its timeout; the guest
 * stays at A), and a source that dies between handing the VM over in the database and asking the target to resume
 * it (B, on the way back: A resumes the guest itself, and it counts on). Last, A is emptied for maintenance: its guest
 * moves to B as a job of A's.
 */
class MigrationIT {

    private static final Pattern COUNTER = Pattern.compile("hv-counter (\\d+)");

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private TwoHosts cluster;

    @AfterEach
    void cleanUp() throws Exception {
        if (cluster != null) {
            try {
                cluster.endWorkers(); // workers outlive their server: the guest's, wherever it ended up, is this test's
            } finally {
                cluster.close();
            }
        }
    }

    @Test
    void aRunningGuestMovesLiveFromHostAToHostBAndCountsOn() throws Exception {
        cluster = TwoHosts.start(List.of("hypervise.cluster.migration.sweep=1s"), List.of(
                "hypervise.cluster.migration.arrival-timeout=15s",
                "hypervise.cluster.migration.sweep=1s",
                // B dies the moment it has handed a VM over, before it asks the target to resume it.
                "hypervise.crash-at=vm.migrate.transferred"));
        HostNetwork.Host hostB = cluster.hostB;
        Path dataA = cluster.dataA;
        Path dataB = cluster.dataB;
        String urlA = cluster.urlA;
        String urlB = cluster.urlB;
        PackagedServer a = cluster.a();
        PackagedServer b = cluster.b();
        // B's library has the template's files too (its own copy, under its own storage root).
        String onB = call(urlB, "POST", "/api/v1/vms", 201, "{\"template\":\"tiny-linux\",\"name\":\"prepare-b\"}")
                .path("id").asText();
        call(urlB, "DELETE", "/api/v1/vms/" + onB, 204);

        String vm = call(urlA, "POST", "/api/v1/vms", 201, "{\"template\":\"tiny-linux\",\"name\":\"traveller\"}")
                .path("id").asText();
        awaitJob(urlA, call(urlA, "POST", "/api/v1/vms/" + vm + "/start", 202).path("id").asText());
        awaitSerial(urlA, vm, "HYPERVISE-READY");
        long workerA = call(urlA, "GET", "/api/v1/vms/" + vm, 200).path("workerPid").asLong();
        assertThat(ProcessHandle.of(workerA).map(ProcessHandle::isAlive)).contains(true);

        // Refused at once, audited, the guest running on at A: to itself, to a host the cluster does not have.
        JsonNode itself = call(urlA, "POST", "/api/v1/vms/" + vm + "/migrate", 409, "{\"host\":\"host-a\"}");
        assertThat(itself.path("detail").asText()).contains("host 'host-a' cannot take this VM");
        JsonNode unknown = call(urlA, "POST", "/api/v1/vms/" + vm + "/migrate", 400, "{\"host\":\"host-z\"}");
        assertThat(unknown.toString()).contains("host", "there is no host 'host-z'");
        // A self-service user may not move VMs at all.
        assertThat(call(urlA, "POST", "/api/v1/vms/" + vm + "/migrate", 403, "{\"host\":\"host-b\"}", "alice")
                .path("status").asInt()).isEqualTo(403);
        // B's cable pulled: once its lease has expired by the database's clock, B is refused, naming the lease.
        hostB.cutLink();
        awaitLease(urlA, "host-b", "expired", Duration.ofSeconds(40));
        JsonNode notLive = call(urlA, "POST", "/api/v1/vms/" + vm + "/migrate", 409, "{\"host\":\"host-b\"}");
        assertThat(notLive.path("detail").asText()).contains("host 'host-b' cannot take this VM", "lease expired");
        hostB.restoreLink();
        awaitLease(urlA, "host-b", "live", Duration.ofSeconds(60));
        JsonNode still = call(urlA, "GET", "/api/v1/vms/" + vm, 200);
        assertThat(still.path("state").asText()).isEqualTo("Running");
        assertThat(still.path("host").asText()).isEqualTo("host-a");
        assertThat(ProcessHandle.of(workerA).map(ProcessHandle::isAlive)).contains(true);
        List<JsonNode> refused = audit(urlA, vm);
        assertThat(refused).extracting(e -> e.path("outcome").asText()).doesNotContain("REQUESTED", "SUCCEEDED");
        assertThat(refused).extracting(e -> e.path("reason").asText())
                .anyMatch(r -> r.contains("host 'host-a' cannot take this VM"))
                .anyMatch(r -> r.contains("there is no host 'host-z'"))
                .anyMatch(r -> r.contains("lease expired"));

        // A source that goes quiet once B has prepared to receive (here the test asks, as A would, and sends nothing):
        // B gives the arrival up after its arrival timeout, ending the worker it had started; the guest stays at A.
        JsonNode disks = call(urlA, "GET", "/api/v1/vms/" + vm, 200).path("disks");
        StringBuilder local = new StringBuilder();
        for (int i = 0; i < disks.size(); i++) {
            if (!disks.get(i).path("readOnly").asBoolean()) {
                local.append(local.isEmpty() ? "" : ",").append('"').append(i).append("\":").append(64L << 20);
            }
        }
        HttpResponse<String> prepared = http.send(HttpRequest.newBuilder(URI.create(urlB + "/api/v1/internal/vms/" + vm
                        + "/incoming")).timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + Tokens.serviceToken())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"fromHost\":\"host-a\",\"fromStorageRoot\":\""
                        + dataA.resolve("storage") + "\",\"localDiskBytes\":{" + local + "},\"paused\":false}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(prepared.statusCode()).as("B prepares to receive: %s", prepared.body()).isEqualTo(200);
        assertThat(workersOf(dataB, vm)).as("B's incoming worker").hasSize(1);
        Instant givenUp = Instant.now().plusSeconds(60);
        while (!workersOf(dataB, vm).isEmpty() || !b.output().contains("its arrival here was given up")) {
            assertThat(Instant.now()).as("B gives the arrival up within a minute:%n%s", b.output()).isBefore(givenUp);
            Thread.sleep(250);
        }
        assertThat(b.output()).contains("VM " + vm + ": its arrival here was given up (host host-a did not hand it over within 15 s)");
        assertThat(call(urlA, "GET", "/api/v1/audit?action=vm.arrival.give-up&target=vm:" + vm, 200).path("items"))
                .as("the give-up is in the log").hasSize(1);
        JsonNode stays = call(urlA, "GET", "/api/v1/vms/" + vm, 200);
        assertThat(stays.path("host").asText()).isEqualTo("host-a");
        assertThat(stays.path("state").asText()).isEqualTo("Running");
        assertThat(ProcessHandle.of(workerA).map(ProcessHandle::isAlive)).contains(true);

        // A migration held to 64 KiB/s is cancelled once B is receiving: the job ends Cancelled, the guest runs on at A
        // as it was, and B ends what it had prepared. Only A's server, whose job it is, cancels it.
        JsonNode slow = call(urlA, "POST", "/api/v1/vms/" + vm + "/migrate", 202, "{\"host\":\"host-b\",\"bandwidthKiBps\":64}");
        String slowJob = slow.path("id").asText();
        Instant receiving = Instant.now().plusSeconds(60);
        while (workersOf(dataB, vm).isEmpty()) {
            assertThat(Instant.now()).as("B prepares to receive within a minute").isBefore(receiving);
            Thread.sleep(100);
        }
        assertThat(call(urlB, "POST", "/api/v1/jobs/" + slowJob + "/cancel", 409).path("detail").asText())
                .contains("runs on host host-a's server");
        assertThat(call(urlA, "POST", "/api/v1/jobs/" + slowJob + "/cancel", 202).path("id").asText()).isEqualTo(slowJob);
        JsonNode cancelled = awaitJobEnd(urlA, slowJob);
        assertThat(cancelled.path("state").asText()).as("the job: %s", cancelled).isEqualTo("cancelled");
        assertThat(cancelled.path("error").asText()).contains("was cancelled", "keeps running on host host-a");
        assertThat(call(urlA, "POST", "/api/v1/jobs/" + slowJob + "/cancel", 409).path("detail").asText())
                .contains("has ended (cancelled)");
        JsonNode afterCancel = call(urlA, "GET", "/api/v1/vms/" + vm, 200);
        assertThat(afterCancel.path("host").asText()).isEqualTo("host-a");
        assertThat(afterCancel.path("state").asText()).isEqualTo("Running");
        assertThat(afterCancel.path("workerPid").asLong()).isEqualTo(workerA);
        Instant abandoned = Instant.now().plusSeconds(20);
        while (!workersOf(dataB, vm).isEmpty()) {
            assertThat(Instant.now()).as("B ends the worker it had prepared").isBefore(abandoned);
            Thread.sleep(250);
        }
        long beforeCancelled = lastCounter(text(urlA, "/api/v1/vms/" + vm + "/serial?lines=10000"));
        Thread.sleep(2000);
        assertThat(lastCounter(text(urlA, "/api/v1/vms/" + vm + "/serial?lines=10000"))).isGreaterThan(beforeCancelled);
        assertThat(audit(urlA, vm)).extracting(e -> e.path("outcome").asText() + " " + e.path("reason").asText())
                .anyMatch(e -> e.startsWith("FAILED") && e.contains("was cancelled"));

        // The move: the guest's counter before, then the job on A, then the counter read through B.
        long before = lastCounter(text(urlA, "/api/v1/vms/" + vm + "/serial?lines=10000"));
        JsonNode job = call(urlA, "POST", "/api/v1/vms/" + vm + "/migrate", 202, "{\"host\":\"host-b\"}");
        assertThat(job.path("kind").asText()).isEqualTo("vm-migrate");
        awaitJob(urlA, job.path("id").asText());

        JsonNode moved = call(urlA, "GET", "/api/v1/vms/" + vm, 200);
        assertThat(moved.path("host").asText()).isEqualTo("host-b");
        awaitState(urlB, vm, "Running");
        long workerB = call(urlB, "GET", "/api/v1/vms/" + vm, 200).path("workerPid").asLong();
        assertThat(Files.readString(Path.of("/proc/" + workerB + "/cmdline")).replace('\0', ' '))
                .as("the worker is host B's").contains(dataB.toString()).doesNotContain(dataA.toString());
        Instant ended = Instant.now().plusSeconds(15);
        while (ProcessHandle.of(workerA).map(ProcessHandle::isAlive).orElse(false)) {
            assertThat(Instant.now()).as("A's worker %d ended once the guest ran at B", workerA).isBefore(ended);
            Thread.sleep(100);
        }
        assertThat(ProcessHandle.allProcesses().filter(p -> p.info().arguments()
                .map(x -> String.join(" ", x).contains(dataA.toString()) && String.join(" ", x).contains(vm))
                .orElse(false)).toList()).as("no worker of A's for the VM").isEmpty();

        // The same guest at B: its counter continues past what A last showed; it did not boot again.
        Thread.sleep(3000);
        String serialB = text(urlB, "/api/v1/vms/" + vm + "/serial?lines=10000");
        List<Long> counted = counters(serialB);
        assertThat(counted).as("B's serial console:%n%s", serialB).isNotEmpty();
        assertThat(counted.getFirst()).as("B's first count continues A's (%d)", before).isGreaterThan(before);
        assertThat(counted.getLast()).isGreaterThan(counted.getFirst());
        assertThat(serialB).doesNotContain("HYPERVISE-READY");
        assertThat(text(urlA, "/api/v1/vms/" + vm + "/serial?lines=10000")).as("read through A, from B")
                .doesNotContain("HYPERVISE-READY");

        // The log: intent and outcome on A, naming B and the downtime.
        List<JsonNode> entries = audit(urlA, vm);
        assertThat(entries).extracting(e -> e.path("outcome").asText()).startsWith("SUCCEEDED", "REQUESTED");
        assertThat(entries.get(1).path("parameters").path("to").asText()).isEqualTo("host-b");
        JsonNode done = entries.getFirst().path("parameters");
        assertThat(done.path("to").asText()).isEqualTo("host-b");
        assertThat(done.path("owner").asText()).isEqualTo("host-b");
        assertThat(done.has("downtimeMillis")).as("the outcome names the downtime: %s", done).isTrue();
        assertThat(done.path("downtimeMillis").asLong()).isBetween(0L, 60_000L);

        assertThat(a.output()).contains("migrated live from host host-a to host host-b: downtime");
        assertThat(b.output()).contains("arrived live from host host-a; Running here");

        // Back to A, and B dies the moment the database names A the owner, before it asks A to resume the guest (its
        // crash point): A resumes the guest itself once B's call is overdue, and it counts on at A.
        long atB = lastCounter(text(urlA, "/api/v1/vms/" + vm + "/serial?lines=10000"));
        call(urlB, "POST", "/api/v1/vms/" + vm + "/migrate", 202, "{\"host\":\"host-a\"}");
        assertThat(b.awaitExit()).as("B halts at its crash point").isEqualTo(137);
        assertThat(b.output()).contains("crash point vm.migrate.transferred reached");
        Instant resumed = Instant.now().plusSeconds(90);
        while (!a.output().contains("VM " + vm + ": host host-b handed it over but did not ask for it to be resumed")) {
            assertThat(Instant.now()).as("A resumes the guest itself within 90 s:%n%s", a.output()).isBefore(resumed);
            Thread.sleep(500);
        }
        JsonNode back = call(urlA, "GET", "/api/v1/vms/" + vm, 200);
        assertThat(back.path("host").asText()).isEqualTo("host-a");
        assertThat(back.path("state").asText()).isEqualTo("Running");
        Thread.sleep(3000);
        List<Long> atA = counters(text(urlA, "/api/v1/vms/" + vm + "/serial?lines=10000"));
        assertThat(atA).isNotEmpty();
        assertThat(atA.getLast()).as("the guest counts on at A past what it counted at B (%d)", atB).isGreaterThan(atB);
        assertThat(call(urlA, "GET", "/api/v1/audit?action=vm.arrival.take-over&target=vm:" + vm, 200).path("items"))
                .as("the take-over is in the log").hasSize(1);

        // B starts again: the worker it left (paused, its memory sent) is not resumed there; it ends, as the
        // database names A the owner, and the guest runs on at A alone.
        List<ProcessHandle> leftAtB = workersOf(dataB, vm);
        assertThat(leftAtB).as("B's worker outlived B's server").hasSize(1);
        b.start();
        assertThat(b.outputSinceStart()).contains("VM 'traveller' (" + vm + ") left host host-b: the database names host"
                + " host-a its owner");
        assertThat(b.outputSinceStart()).as("B's engine did not resume the guest it had sent")
                .contains("whose live migration had completed when the last engine stopped")
                .doesNotContain("the live migration it was making when the last engine stopped was cancelled");
        assertThat(workersOf(dataB, vm)).as("no worker of B's for the VM").isEmpty();
        assertThat(call(urlA, "GET", "/api/v1/audit?action=vm.departed&target=vm:" + vm, 200).path("items")).hasSize(1);
        JsonNode after = call(urlA, "GET", "/api/v1/vms/" + vm, 200);
        assertThat(after.path("host").asText()).isEqualTo("host-a");
        assertThat(after.path("state").asText()).isEqualTo("Running");
        long lastAtA = atA.getLast();
        Thread.sleep(2000);
        assertThat(lastCounter(text(urlA, "/api/v1/vms/" + vm + "/serial?lines=10000"))).isGreaterThan(lastAtA);

        // A emptied for maintenance: asked of B, refused (A's own server moves A's VMs); asked of A, A goes into
        // maintenance and its running guest moves live to B, the one host placement rates eligible.
        JsonNode notHere = call(urlB, "POST", "/api/v1/hosts/host-a/evacuate", 409);
        assertThat(notHere.path("detail").asText()).contains("host 'host-a' is emptied by its own server");
        awaitEligible(urlA, vm, "host-b");
        JsonNode evacuation = call(urlA, "POST", "/api/v1/hosts/host-a/evacuate", 202);
        assertThat(evacuation.path("kind").asText()).isEqualTo("host-evacuate");
        assertThat(call(urlA, "GET", "/api/v1/hosts/host-a", 200).path("maintenance").asBoolean()).isTrue();
        awaitJob(urlA, evacuation.path("id").asText());
        JsonNode evacuated = call(urlA, "GET", "/api/v1/vms/" + vm, 200);
        assertThat(evacuated.path("host").asText()).isEqualTo("host-b");
        awaitState(urlB, vm, "Running");
        JsonNode emptied = call(urlA, "GET", "/api/v1/audit?action=host.evacuate&target=host:host-a", 200).path("items");
        assertThat(emptied).extracting(e -> e.path("outcome").asText()).contains("REQUESTED", "SUCCEEDED");
        assertThat(emptied.toString()).contains("\"moved\":{\"" + vm + "\":\"host-b\"}");
        // In maintenance, A takes nothing new.
        assertThat(call(urlA, "POST", "/api/v1/vms", 409, "{\"template\":\"tiny-linux\",\"name\":\"not-now\"}")
                .path("detail").asText()).contains("in maintenance mode");

        assertThat(call(urlA, "POST", "/api/v1/vms/" + vm + "/turn-off", 200).path("state").asText()).isEqualTo("Off");
        assertThat(a.output() + b.output()).doesNotContain("unexpected error");
    }

    /** Waits until placement, asked at {@code url}, rates {@code host} eligible for the VM (a host just started publishes its facts first). */
    private void awaitEligible(String url, String vm, String host) throws Exception {
        Instant deadline = Instant.now().plusSeconds(60);
        while (true) {
            JsonNode ratings = call(url, "GET", "/api/v1/placement/ratings/vms/" + vm, 200).path("ratings");
            for (JsonNode rating : ratings) {
                if (rating.path("hostId").asText().equals(host) && rating.path("eligible").asBoolean()) {
                    return;
                }
            }
            assertThat(Instant.now()).as("placement rates %s eligible within a minute: %s", host, ratings).isBefore(deadline);
            Thread.sleep(500);
        }
    }

    /** Worker processes of VM {@code vm} under the data folder {@code data}. */
    private static List<ProcessHandle> workersOf(Path data, String vm) {
        return ProcessHandle.allProcesses().filter(p -> p.info().command().orElse("").contains("qemu-system")
                && p.info().arguments().map(x -> String.join(" ", x)).map(x -> x.contains(data.toString()) && x.contains(vm))
                        .orElse(false)).toList();
    }

    private static long lastCounter(String serial) {
        List<Long> all = counters(serial);
        assertThat(all).as("the guest counts on its serial console:%n%s", serial).isNotEmpty();
        return all.getLast();
    }

    private static List<Long> counters(String serial) {
        List<Long> all = new ArrayList<>();
        Matcher m = COUNTER.matcher(serial);
        while (m.find()) {
            all.add(Long.parseLong(m.group(1)));
        }
        return all;
    }

    /** The log's vm.migrate entries for the VM, newest first. */
    private List<JsonNode> audit(String url, String vm) throws Exception {
        JsonNode page = call(url, "GET", "/api/v1/audit?action=vm.migrate&target=vm:" + vm, 200);
        List<JsonNode> entries = new ArrayList<>();
        page.path("items").forEach(entries::add);
        entries.sort((x, y) -> Long.compare(y.path("id").asLong(), x.path("id").asLong()));
        return entries;
    }

    private void awaitJob(String url, String job) throws Exception {
        Instant deadline = Instant.now().plusSeconds(180);
        while (Instant.now().isBefore(deadline)) {
            JsonNode state = call(url, "GET", "/api/v1/jobs/" + job, 200);
            if (state.path("state").asText().equals("succeeded")) {
                return;
            }
            assertThat(state.path("state").asText()).as("job %s: %s", job, state).isIn("queued", "running");
            Thread.sleep(250);
        }
        throw new AssertionError("job " + job + " did not end within 3 minutes");
    }

    /** Waits (up to 3 minutes) for the job to end; its last state. */
    private JsonNode awaitJobEnd(String url, String job) throws Exception {
        Instant deadline = Instant.now().plusSeconds(180);
        while (Instant.now().isBefore(deadline)) {
            JsonNode state = call(url, "GET", "/api/v1/jobs/" + job, 200);
            if (!List.of("queued", "running").contains(state.path("state").asText())) {
                return state;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("job " + job + " did not end within 3 minutes");
    }

    private void awaitState(String url, String vm, String state) throws Exception {
        Instant deadline = Instant.now().plusSeconds(20);
        while (!call(url, "GET", "/api/v1/vms/" + vm, 200).path("state").asText().equals(state)) {
            assertThat(Instant.now()).as("VM %s %s within 20 s", vm, state).isBefore(deadline);
            Thread.sleep(250);
        }
    }

    private void awaitSerial(String url, String vm, String marker) throws Exception {
        Instant deadline = Instant.now().plusSeconds(120);
        while (Instant.now().isBefore(deadline)) {
            if (text(url, "/api/v1/vms/" + vm + "/serial?lines=10000").lines().anyMatch(marker::equals)) {
                return;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("the guest did not print " + marker + " within 2 minutes");
    }

    private String text(String url, String path) throws Exception {
        return cluster.text(url, path);
    }

    private JsonNode call(String url, String method, String path, int expected, String body, String user) throws Exception {
        return cluster.call(url, method, path, expected, body, user);
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
