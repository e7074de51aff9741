package io.hypervise.server.cluster;

import static io.hypervise.server.testing.Tokens.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.agroal.api.AgroalDataSource;
import io.hypervise.engine.Engine;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fence between a live migration's target giving its arrival up and its source handing the VM over, on the real
 * database: whichever commits first wins, and the other is told so, also when both happen at the same moment.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class VmArrivalsTest {

    private static final String TARGET = "arrivals-target";

    @Inject
    VmArrivals arrivals;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    private String vm;

    @BeforeEach
    void aVmHereAndAnotherHost() throws SQLException {
        TestPolicies.ensureStubTemplate(engine);
        vm = as("admin").contentType("application/json").body("{\"template\":\"stub\",\"name\":\"arriving\"}")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        sql("INSERT INTO hosts (id, name, hostname, accelerator, cpus, memory_bytes, qemu_version) VALUES ('" + TARGET
                + "', 'Target', 'localhost', 'TCG', 2, 8589934592, '7.2.22') ON CONFLICT DO NOTHING");
    }

    @AfterEach
    void removeThem() throws SQLException {
        as("admin").when().delete("/api/v1/vms/" + vm).then().statusCode(204);
        sql("DELETE FROM hosts WHERE id = '" + TARGET + "'"); // other tests count the cluster's hosts
    }

    @Test
    void aGivenUpArrivalCannotBeHandedOverAndAHandedOverOneIsNotGivenUp() {
        arrivals.record(vm, TARGET, localHost.id(), false);
        assertThatThrownBy(() -> arrivals.record(vm, TARGET, localHost.id(), false))
                .hasMessageContaining("one live migration of a VM at a time");
        assertThat(arrivals.at(TARGET, Duration.ofHours(1), Duration.ZERO)).singleElement()
                .satisfies(a -> assertThat(a.handedOver()).isFalse()).satisfies(a -> assertThat(a.stale()).isFalse());
        assertThat(arrivals.at(TARGET, Duration.ZERO, Duration.ZERO)).singleElement()
                .satisfies(a -> assertThat(a.stale()).as("older than no time at all").isTrue());
        assertThat(arrivals.notHandedOverFrom(localHost.id())).extracting(VmArrivals.Arrival::vmId).containsExactly(vm);

        assertThat(arrivals.giveUp(vm, TARGET)).isEqualTo(VmArrivals.GiveUp.GIVEN_UP);
        assertThatThrownBy(() -> QuarkusTransaction.requiringNew().run(() -> arrivals.handOver(vm, TARGET)))
                .isInstanceOf(OwnershipRefusedException.class).hasMessageContaining("gave the arrival up");
        assertThat(arrivals.giveUp(vm, TARGET)).isEqualTo(VmArrivals.GiveUp.NONE);

        arrivals.record(vm, TARGET, localHost.id(), true);
        QuarkusTransaction.requiringNew().run(() -> arrivals.handOver(vm, TARGET));
        assertThat(arrivals.giveUp(vm, TARGET)).isEqualTo(VmArrivals.GiveUp.HANDED_OVER);
        assertThat(arrivals.at(TARGET, Duration.ofHours(1), Duration.ZERO)).singleElement()
                .satisfies(a -> assertThat(a.handedOver()).isTrue()).satisfies(a -> assertThat(a.paused()).isTrue());
        assertThat(arrivals.at(TARGET, Duration.ofHours(1), Duration.ofHours(1))).singleElement()
                .satisfies(a -> assertThat(a.handedOver()).as("not yet past the grace").isFalse());
        assertThat(arrivals.notHandedOverFrom(localHost.id())).isEmpty();
        arrivals.forget(vm, TARGET);
        assertThat(arrivals.at(TARGET, Duration.ofHours(1), Duration.ZERO)).isEmpty();
    }

    @Test
    void aGiveUpAtTheMomentOfAHandOverWaitsForItAndLosesOrWinsWithItsCommit() throws Exception {
        for (boolean commits : new boolean[] {true, false}) {
            arrivals.record(vm, TARGET, localHost.id(), false);
            CountDownLatch handedOver = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            CompletableFuture<Void> source = CompletableFuture.runAsync(() -> {
                try {
                    QuarkusTransaction.requiringNew().run(() -> {
                        arrivals.handOver(vm, TARGET);
                        handedOver.countDown();
                        await(finish);
                        if (!commits) {
                            throw new IllegalStateException("the transfer was refused");
                        }
                    });
                } catch (IllegalStateException expected) {
                    // rolled back: as a hand-over whose transfer was refused
                }
            });
            assertThat(handedOver.await(30, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<VmArrivals.GiveUp> target = CompletableFuture.supplyAsync(() -> arrivals.giveUp(vm, TARGET));
            Thread.sleep(300);
            assertThat(target).as("the give-up waits for the hand-over's transaction").isNotDone();
            finish.countDown();
            source.get(30, TimeUnit.SECONDS);
            assertThat(target.get(30, TimeUnit.SECONDS)).as("the hand-over %s", commits ? "committed" : "rolled back")
                    .isEqualTo(commits ? VmArrivals.GiveUp.HANDED_OVER : VmArrivals.GiveUp.GIVEN_UP);
            arrivals.forget(vm, TARGET);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void sql(String statement) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }
}
