package io.hypervise.server.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class QuotaTurnsTest {

    private final QuotaTurns turns = new QuotaTurns();

    @Test
    void oneOwnersRequestsTakeTurnsAndNothingIsKeptAfterwards() throws Exception {
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(20)) {
            List<Future<Integer>> done = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                int n = i;
                done.add(pool.submit(() -> {
                    go.await();
                    return turns.inTurn("alice", () -> {
                        most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                        Thread.onSpinWait();
                        inside.decrementAndGet();
                        return n;
                    });
                }));
            }
            go.countDown();
            for (int i = 0; i < done.size(); i++) {
                assertThat(done.get(i).get(10, TimeUnit.SECONDS)).isEqualTo(i);
            }
        }
        assertThat(most.get()).as("alice's requests inside at once").isEqualTo(1);
        assertThat(turns.owners()).as("owners kept once everyone is done").isZero();
    }

    @Test
    void anotherOwnerDoesNotWaitAndAFailureGivesTheTurnBack() throws Exception {
        CountDownLatch aliceInside = new CountDownLatch(1);
        CountDownLatch aliceMayLeave = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
            Future<String> alice = pool.submit(() -> turns.inTurn("alice", () -> {
                aliceInside.countDown();
                await(aliceMayLeave);
                return "alice";
            }));
            assertThat(aliceInside.await(10, TimeUnit.SECONDS)).isTrue();
            // Bob's turn comes while Alice holds hers.
            assertThat(pool.submit(() -> turns.inTurn("bob", () -> "bob")).get(10, TimeUnit.SECONDS)).isEqualTo("bob");
            aliceMayLeave.countDown();
            assertThat(alice.get(10, TimeUnit.SECONDS)).isEqualTo("alice");
        }
        assertThatThrownBy(() -> turns.inTurn("alice", () -> {
            throw new IllegalStateException("refused");
        })).hasMessage("refused");
        assertThat(turns.inTurn("alice", () -> "again")).isEqualTo("again");
        assertThat(turns.owners()).isZero();
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
