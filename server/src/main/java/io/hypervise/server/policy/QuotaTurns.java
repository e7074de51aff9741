package io.hypervise.server.policy;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Requests of one owner that will take the owner's quota lock ({@link SelfServicePolicies#lockQuota}) wait
 * their turn here, in this server, before they open a transaction: a request waiting for the quota lock in
 * PostgreSQL holds a pooled connection the whole time, so fifty creations at once by one user held every
 * connection of the pool while they queued, and the server's other requests (anyone's) waited for one and
 * timed out. Here they wait holding no connection; at most one per owner per server reaches the database,
 * where the advisory lock still orders servers among themselves.
 *
 * <p>Fair: turns are taken in the order asked. An owner's entry lives while someone holds or awaits it.
 */
@ApplicationScoped
public class QuotaTurns {

    private static final class Turn {
        final ReentrantLock lock = new ReentrantLock(true);
        int users;
    }

    private final ConcurrentHashMap<String, Turn> turns = new ConcurrentHashMap<>();

    /** Runs {@code work} once no other request of {@code owner} is running it in this server. */
    public <T> T inTurn(String owner, Supplier<T> work) {
        Turn turn = turns.compute(owner, (k, t) -> {
            Turn held = t == null ? new Turn() : t;
            held.users++;
            return held;
        });
        try {
            turn.lock.lock();
            try {
                return work.get();
            } finally {
                turn.lock.unlock();
            }
        } finally {
            turns.computeIfPresent(owner, (k, t) -> --t.users == 0 ? null : t);
        }
    }

    /** Owners with a request holding or awaiting a turn (for tests: nothing is kept once the requests are done). */
    int owners() {
        return turns.size();
    }
}
