package io.hypervise.server.audit;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;

/** An audit entry as the API shows it, with the hashes that chain it. */
public record AuditEntryView(long id, Instant at, String actor, List<String> roles, String sourceAddress, String action,
        String target, JsonNode parameters, String outcome, String reason, String previousHash, String hash) {

    static AuditEntryView of(AuditChain.Link link) {
        AuditRecord r = link.record();
        return new AuditEntryView(r.id(), r.at(), r.actor(), r.roles(), r.sourceAddress(), r.action(), r.target(),
                r.parameters(), r.outcome(), r.reason(), link.previousHash(), link.hash());
    }
}
