package io.hypervise.engine.qmp;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/** Commands sent and not yet answered, by the id that QEMU echoes in its reply. */
final class PendingCommands {

    private final Map<Long, CompletableFuture<QmpMessage.Reply>> byId = new ConcurrentHashMap<>();

    CompletableFuture<QmpMessage.Reply> register(long id) {
        CompletableFuture<QmpMessage.Reply> reply = new CompletableFuture<>();
        byId.put(id, reply);
        return reply;
    }

    void forget(long id) {
        byId.remove(id);
    }

    /** @return false if nobody waits for this reply any more (it timed out, or the id is foreign) */
    boolean complete(QmpMessage.Reply reply) {
        if (reply.id() == null || !reply.id().isIntegralNumber()) {
            return false;
        }
        CompletableFuture<QmpMessage.Reply> waiting = byId.remove(reply.id().asLong());
        return waiting != null && waiting.complete(reply);
    }

    /** Fails every waiting command at once: their replies can no longer arrive. */
    void failAll(Throwable cause) {
        for (Long id : byId.keySet()) {
            CompletableFuture<QmpMessage.Reply> waiting = byId.remove(id);
            if (waiting != null) {
                waiting.completeExceptionally(cause);
            }
        }
    }
}
