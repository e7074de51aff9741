package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.cluster.Cluster;
import io.hypervise.server.cluster.FencingRefusedException;
import io.hypervise.server.cluster.HostMembership;
import io.hypervise.server.cluster.MembershipListener;
import io.hypervise.server.cluster.MembershipState;
import io.hypervise.server.cluster.OwnershipRefusedException;
import io.hypervise.server.cluster.OwnershipRefusedException.Reason;
import io.hypervise.server.cluster.VmOwnership;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Host membership on the real PostgreSQL: this server's lease and epoch, other hosts (rows made here as other
 * servers would leave them) seen live, expired or left by the database's clock, removing a host, and the
 * fencing-token transfer of a VM's ownership, raced.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class ClusterMembershipTest {

    @Inject
    HostMembership membership;

    @Inject
    VmOwnership ownership;

    @Inject
    Cluster cluster;

    @Inject
    LocalHost localHost;

    @Inject
    AgroalDataSource db;

    @TestHTTPResource("/")
    URL url;

    private final List<MembershipListener> listening = new ArrayList<>();

    @AfterEach
    void removeTheOtherHostsAndTheirVms() throws SQLException {
        listening.forEach(membership::removeListener);
        sql("DELETE FROM vms WHERE id LIKE 'cl-%'");
        sql("DELETE FROM hosts WHERE id LIKE 'cl-%'");
        if (membership.standing().state() != MembershipState.LIVE) {
            membership.join();
        }
    }

    @Test
    void theServersOwnHostIsLiveAndItsLeaseMovesForwardByTheDatabaseClock() throws Exception {
        String me = localHost.id();
        JsonPath first = as("auditor").when().get("/api/v1/hosts/" + me).then().statusCode(200)
                .body("lease.state", equalTo("live"))
                .body("lease.epoch", greaterThanOrEqualTo(1))
                .body("lease.leftAt", nullValue())
                .body("address", startsWith("http://127.0.0.1:"))
                .body("maintenance", equalTo(false))
                .body("membership.state", equalTo("live"))
                .body("membership.renewFailures", equalTo(0))
                .extract().jsonPath();
        assertThat(first.getLong("lease.epoch")).isEqualTo(membership.epoch());
        Instant expires = Instant.parse(first.getString("lease.expiresAt"));

        // Renewed every 2 s: within a few seconds the database has pushed the expiry on, by its own clock.
        Instant later = expires;
        for (int i = 0; i < 50 && !later.isAfter(expires); i++) {
            Thread.sleep(200);
            later = Instant.parse(as("auditor").when().get("/api/v1/hosts/" + me).then().statusCode(200)
                    .extract().path("lease.expiresAt"));
        }
        assertThat(later).as("the lease's expiry after a renewal").isAfter(expires);
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement("""
                SELECT lease_expires_at > clock_timestamp(), lease_expires_at - lease_renewed_at = interval '10 seconds',
                       lease_expires_at <= clock_timestamp() + interval '10 seconds'
                  FROM hosts WHERE id = ?""")) {
            s.setString(1, me);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                assertThat(rs.getBoolean(1)).as("the lease runs past the database's now").isTrue();
                assertThat(rs.getBoolean(2)).as("expiry is the renewal plus the ttl (10 s)").isTrue();
                assertThat(rs.getBoolean(3)).as("no further than a ttl ahead of the database's clock").isTrue();
            }
        }
    }

    @Test
    void joiningAgainBumpsTheEpochAndWhoeverHeldTheOldOneCanNoLongerRenew() throws Exception {
        List<String> lost = new CopyOnWriteArrayList<>();
        listen((epoch, reason) -> lost.add(epoch + ": " + reason));
        long before = membership.epoch();
        long after = membership.join();
        assertThat(after).isEqualTo(before + 1);
        assertThat(epochOf(localHost.id())).isEqualTo(after);
        assertThat(membership.renew()).isEqualTo(MembershipState.LIVE);
        assertThat(lost).isEmpty();

        // The same host joins again elsewhere (as a restarted server does): this server's epoch is the old one now.
        sql("UPDATE hosts SET epoch = epoch + 1 WHERE id = '" + localHost.id() + "'");
        Instant expiry = expiryOf(localHost.id());
        assertThat(membership.renew()).isEqualTo(MembershipState.LOST);
        assertThat(expiryOf(localHost.id())).as("the old holder did not renew the lease").isEqualTo(expiry);
        assertThat(membership.renew()).as("lost for good until it joins again").isEqualTo(MembershipState.LOST);
        assertThat(lost).containsExactly(after + ": its epoch is " + (after + 1) + ", no longer " + after
                + ": it joined again, or was declared gone");
        as("admin").when().get("/api/v1/hosts/" + localHost.id()).then().statusCode(200)
                .body("membership.state", equalTo("lost"))
                .body("membership.epoch", equalTo((int) after))
                .body("lease.epoch", equalTo((int) after + 1));

        assertThat(membership.join()).isEqualTo(after + 2);
        assertThat(membership.renew()).isEqualTo(MembershipState.LIVE);
    }

    @Test
    void aRenewalTheDatabaseDoesNotAnswerIsCountedAndRetried() throws Exception {
        List<String> lost = new CopyOnWriteArrayList<>();
        listen((epoch, reason) -> lost.add(reason));
        long epoch = membership.epoch();
        // Another transaction holds the host's row: the renewal waits, and gives up after a renewal period.
        try (Connection holder = db.getConnection()) {
            holder.setAutoCommit(false);
            try (PreparedStatement lock = holder.prepareStatement("SELECT 1 FROM hosts WHERE id = ? FOR UPDATE")) {
                lock.setString(1, localHost.id());
                lock.executeQuery().close();
            }
            assertThat(membership.renew()).isEqualTo(MembershipState.RENEW_FAILING);
            HostMembership.Standing failing = membership.standing();
            assertThat(failing.renewFailures()).isGreaterThanOrEqualTo(1);
            assertThat(failing.lastFailure()).contains("cancel");
            assertThat(failing.epoch()).isEqualTo(epoch);
            as("admin").when().get("/api/v1/hosts/" + localHost.id()).then().statusCode(200)
                    .body("membership.state", equalTo("renew-failing"))
                    .body("membership.lastRenewFailure", org.hamcrest.Matchers.containsString("cancel"))
                    .body("lease.state", equalTo("live"));
            holder.rollback();
        }
        assertThat(membership.renew()).isEqualTo(MembershipState.LIVE);
        assertThat(membership.standing().renewFailures()).isZero();
        assertThat(membership.standing().lastFailure()).isNull();
        assertThat(membership.epoch()).as("a failed renewal is not a lost lease").isEqualTo(epoch);
        assertThat(lost).isEmpty();
    }

    @Test
    void aHostWhoseLeaseExpiredIsDeclaredGoneOnceAndItsVmsMoveOnlyWithItsNewEpoch() throws Exception {
        host("cl-dead", 3, "-30 seconds");
        host("cl-alive", 8, "10 minutes");
        vm("cl-vm-dead", "cl-dead");
        assertThatThrownBy(() -> cluster.declareGone("cl-alive", 8)).isInstanceOf(FencingRefusedException.class)
                .hasMessageStartingWith("host 'cl-alive' holds a live lease (until ");
        assertThat(cluster.declareGone("cl-dead", 3)).isEqualTo(4);
        assertThatThrownBy(() -> cluster.declareGone("cl-dead", 3)).isInstanceOf(FencingRefusedException.class)
                .hasMessage("host 'cl-dead' is at epoch 4, not 3: it joined again, or was declared gone already");
        assertThat(epochOf("cl-dead")).isEqualTo(4);

        refused(() -> ownership.transfer("cl-vm-dead", "cl-dead", 3L, "cl-alive", 8), Reason.SOURCE_EPOCH_STALE, null);
        assertThat(ownership.transfer("cl-vm-dead", "cl-dead", 4L, "cl-alive", 8).to()).isEqualTo("cl-alive");
        assertThat(ownerOf("cl-vm-dead")).isEqualTo("cl-alive");
    }

    @Test
    void anotherHostWhoseLeaseRanOutShowsAsExpiredWithItsEpochAndCounts() throws Exception {
        host("cl-expired", 3, "-1 minute");
        host("cl-live", 4, "10 minutes");
        vm("cl-vm-on-live", "cl-live");
        JsonPath hosts = as("operator").when().get("/api/v1/hosts").then().statusCode(200).extract().jsonPath();
        Map<String, Object> expired = item(hosts, "cl-expired");
        assertThat(expired).containsEntry("maintenance", false).containsEntry("vmCount", 0).containsEntry("capabilities", null)
                .containsEntry("membership", null);
        assertThat(lease(expired)).containsEntry("state", "expired").containsEntry("epoch", 3);
        assertThat(Instant.parse((String) lease(expired).get("expiresAt"))).isBefore(Instant.now());
        Map<String, Object> live = item(hosts, "cl-live");
        assertThat(lease(live)).containsEntry("state", "live").containsEntry("epoch", 4);
        assertThat(live).containsEntry("vmCount", 1);
        as("auditor").when().get("/api/v1/hosts/cl-expired").then().statusCode(200).body("lease.state", equalTo("expired"));
        as("auditor").when().get("/api/v1/hosts/cl-none").then().statusCode(404);

        // The admin console's tree shows each host's lease; the host page its epoch.
        String base = "http://127.0.0.1:" + url.getPort();
        HttpBrowser admin = new HttpBrowser();
        assertThat(admin.signIn(base, "admin", "admin").statusCode()).isEqualTo(200);
        String tree = admin.get(URI.create(base + "/admin")).body().replaceAll("\\s+", " ");
        assertThat(tree).containsPattern("<span class=\"host-name\">Host cl-expired</span> <span class=\"state state-unresponsive lease\"[^>]*>expired \\d+ (s|min) ago</span>");
        assertThat(tree).containsPattern("<span class=\"host-name\">Host cl-live</span> <span class=\"state state-running lease\"[^>]*>live</span>");
        assertThat(tree).as("this server's own host links to its page")
                .containsPattern("<a href=\"/admin/hosts/" + localHost.id() + "\"[^>]*>[^<]*</a> <span class=\"state state-running lease\"");
        String page = admin.get(URI.create(base + "/admin/hosts/" + localHost.id())).body();
        assertThat(page).contains("<strong id=\"epoch\">" + membership.epoch() + "</strong>");
    }

    @Test
    void aHostLeavesOnlyOnceItsLeaseExpiredAndItOwnsNoVms() throws Exception {
        as("admin").when().delete("/api/v1/hosts/" + localHost.id()).then().statusCode(409)
                .body("detail", startsWith("host '" + localHost.id() + "' holds a live lease (until "));
        host("cl-busy", 2, "-1 minute");
        vm("cl-vm-busy", "cl-busy");
        as("admin").when().delete("/api/v1/hosts/cl-busy").then().statusCode(409)
                .body("detail", equalTo("host 'cl-busy' still owns 1 VM (cl-vm-busy); move them to another host or delete"
                        + " them first"));
        as("operator").when().delete("/api/v1/hosts/cl-busy").then().statusCode(403);
        host("cl-gone", 6, "-5 minutes");
        as("admin").when().delete("/api/v1/hosts/cl-gone").then().statusCode(204);
        as("admin").when().get("/api/v1/hosts/cl-gone").then().statusCode(200)
                .body("lease.state", equalTo("left"))
                .body("lease.epoch", equalTo(7));
        as("admin").when().delete("/api/v1/hosts/cl-gone").then().statusCode(409)
                .body("detail", startsWith("host 'cl-gone' left the cluster at "));
        as("admin").when().delete("/api/v1/hosts/cl-none").then().statusCode(404);
        as("admin").when().get("/api/v1/hosts/" + localHost.id()).then().body("lease.state", equalTo("live"));

        as("auditor").queryParam("target", "host:cl-gone").when().get("/api/v1/audit").then().statusCode(200)
                .body("items[0].action", equalTo("host.remove"))
                .body("items[0].outcome", equalTo("FAILED"))
                .body("items[0].reason", startsWith("host 'cl-gone' left the cluster at "))
                .body("items[1].action", equalTo("host.remove"))
                .body("items[1].outcome", equalTo("SUCCEEDED"))
                .body("items[1].actor", equalTo("admin"))
                .body("items[1].parameters.epoch", equalTo(7));
        as("auditor").queryParam("target", "host:cl-busy").when().get("/api/v1/audit").then().statusCode(200)
                .body("items[0].outcome", equalTo("FAILED"))
                .body("items[0].reason", startsWith("host 'cl-busy' still owns 1 VM"));
        as("auditor").queryParam("target", "host:" + localHost.id()).when().get("/api/v1/audit").then().statusCode(200)
                .body("items[0].outcome", equalTo("FAILED"))
                .body("items[0].reason", startsWith("host '" + localHost.id() + "' holds a live lease"));

        // Its server, coming back, joins again: the removal's epoch bump means the old lease is never renewed.
        sql("UPDATE hosts SET lease_expires_at = clock_timestamp() + interval '1 minute' WHERE id = 'cl-busy'");
        as("admin").when().delete("/api/v1/hosts/cl-busy").then().statusCode(409)
                .body("detail", startsWith("host 'cl-busy' holds a live lease"));
    }

    @Test
    void aTransferHappensOnlyWithTheEpochsItWasDecidedOn() throws Exception {
        String me = localHost.id();
        host("cl-b", 5, "10 minutes");
        host("cl-x", 2, "-1 minute");
        vm("cl-vm-1", me);
        long mine = membership.epoch();

        refused(() -> ownership.transfer("cl-vm-1", me, null, "cl-b", 4), Reason.TARGET_EPOCH_STALE,
                "host 'cl-b' is at epoch 5, not 4 as the transfer of VM 'cl-vm-1' was decided on (it joined again since)");
        refused(() -> ownership.transfer("cl-vm-1", me, null, "cl-x", 2), Reason.TARGET_EXPIRED, null);
        refused(() -> ownership.transfer("cl-vm-1", me, mine - 1, "cl-b", 5), Reason.SOURCE_EPOCH_STALE,
                "host '" + me + "' is at epoch " + mine + ", not " + (mine - 1) + " as the transfer of VM 'cl-vm-1' was decided on");
        refused(() -> ownership.transfer("cl-vm-1", me, null, "cl-nowhere", 1), Reason.NO_SUCH_TARGET, null);
        refused(() -> ownership.transfer("cl-vm-none", me, null, "cl-b", 5), Reason.NO_SUCH_VM, null);
        assertThat(ownerOf("cl-vm-1")).as("refusals change nothing").isEqualTo(me);

        VmOwnership.Transfer done = ownership.transfer("cl-vm-1", me, mine, "cl-b", 5);
        assertThat(done.to()).isEqualTo("cl-b");
        assertThat(ownerOf("cl-vm-1")).isEqualTo("cl-b");
        as("operator").when().get("/api/v1/hosts/cl-b").then().body("vmCount", equalTo(1));
        refused(() -> ownership.transfer("cl-vm-1", me, null, "cl-b", 5), Reason.VM_ELSEWHERE,
                "VM 'cl-vm-1' is on host 'cl-b', not on host '" + me + "' as the transfer expected");
        refused(() -> ownership.transfer("cl-vm-1", "cl-b", null, "cl-b", 5), Reason.SAME_HOST, null);

        // A removed host takes no VMs, whatever epoch is named.
        sql("UPDATE hosts SET left_at = clock_timestamp() WHERE id = 'cl-x'");
        refused(() -> ownership.transfer("cl-vm-1", "cl-b", 5L, "cl-x", 2), Reason.TARGET_LEFT, null);
    }

    @Test
    void twentyRacingTransfersOfOneVmLeaveExactlyOneOwner() throws Exception {
        host("cl-src", 9, "-1 minute");
        host("cl-c", 11, "10 minutes");
        host("cl-d", 13, "10 minutes");
        ExecutorService pool = Executors.newFixedThreadPool(20);
        try {
            for (int round = 0; round < 3; round++) {
                String vm = "cl-race-" + round;
                vm(vm, "cl-src");
                CountDownLatch go = new CountDownLatch(1);
                List<Future<String>> calls = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    String to = i % 2 == 0 ? "cl-c" : "cl-d";
                    long epoch = i % 2 == 0 ? 11 : 13;
                    calls.add(pool.submit(() -> {
                        go.await();
                        try {
                            return "moved to " + ownership.transfer(vm, "cl-src", 9L, to, epoch).to();
                        } catch (OwnershipRefusedException e) {
                            return "refused " + e.reason();
                        }
                    }));
                }
                go.countDown();
                List<String> outcomes = new ArrayList<>();
                for (Future<String> call : calls) {
                    outcomes.add(call.get());
                }
                List<String> moved = outcomes.stream().filter(o -> o.startsWith("moved")).toList();
                assertThat(moved).as("round " + round + ": " + outcomes).hasSize(1);
                assertThat(outcomes.stream().filter(o -> o.equals("refused VM_ELSEWHERE"))).hasSize(19);
                assertThat(ownerOf(vm)).isEqualTo(moved.get(0).substring("moved to ".length()));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private void listen(MembershipListener listener) {
        listening.add(listener);
        membership.addListener(listener);
    }

    private static void refused(Runnable transfer, Reason reason, String detail) {
        assertThatThrownBy(transfer::run).isInstanceOfSatisfying(OwnershipRefusedException.class, e -> {
            assertThat(e.reason()).isEqualTo(reason);
            if (detail != null) {
                assertThat(e.getMessage()).isEqualTo(detail);
            }
        });
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> item(JsonPath hosts, String id) {
        List<Map<String, Object>> items = hosts.getList("items");
        return items.stream().filter(h -> id.equals(h.get("id"))).findFirst()
                .orElseThrow(() -> new AssertionError("no host " + id + " in " + hosts.prettify()));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> lease(Map<String, Object> host) {
        return (Map<String, Object>) host.get("lease");
    }

    /** Another host's row as its server would leave it: joined with {@code epoch}, its lease ending {@code in} from now. */
    private void host(String id, long epoch, String in) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement("""
                INSERT INTO hosts (id, name, hostname, accelerator, cpus, memory_bytes, qemu_version, epoch,
                                   lease_expires_at, lease_renewed_at, address)
                VALUES (?, ?, ?, 'TCG', 4, 8589934592, '7.2.0', ?, clock_timestamp() + CAST(? AS interval),
                        clock_timestamp() + CAST(? AS interval) - interval '10 seconds', 'http://192.0.2.1:8080')""")) {
            s.setString(1, id);
            s.setString(2, "Host " + id);
            s.setString(3, id + ".example");
            s.setLong(4, epoch);
            s.setString(5, in);
            s.setString(6, in);
            s.executeUpdate();
        }
    }

    /** A VM's row on {@code hostId}, as that host's server would have written it (no engine here knows it). */
    private void vm(String id, String hostId) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement("""
                INSERT INTO vms (id, host_id, name, owner, vcpus, memory_mib, profile, display, boot_kind, boot_kernel)
                VALUES (?, ?, ?, 'system', 1, 64, 'ENLIGHTENED', 'NONE', 'KERNEL', 'kernel')""")) {
            s.setString(1, id);
            s.setString(2, hostId);
            s.setString(3, id);
            s.executeUpdate();
        }
    }

    private String ownerOf(String vm) throws SQLException {
        return one("SELECT host_id FROM vms WHERE id = ?", vm, String.class);
    }

    private long epochOf(String host) throws SQLException {
        return one("SELECT epoch FROM hosts WHERE id = ?", host, Long.class);
    }

    private Instant expiryOf(String host) throws SQLException {
        return one("SELECT lease_expires_at FROM hosts WHERE id = ?", host, java.time.OffsetDateTime.class).toInstant();
    }

    private <T> T one(String sql, String parameter, Class<T> type) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.setString(1, parameter);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getObject(1, type);
            }
        }
    }

    private void sql(String sql) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.executeUpdate();
        }
    }
}
