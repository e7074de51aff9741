package io.hypervise.server.audit;

import com.fasterxml.jackson.annotation.JsonInclude;

/** The outcome of walking the whole chain: intact with so many entries, or the first entry where it breaks. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AuditVerification(boolean intact, Long entries, Long firstBrokenEntry, String reason) {

    static AuditVerification intact(long entries) {
        return new AuditVerification(true, entries, null, null);
    }

    static AuditVerification broken(AuditChain.Break at) {
        return new AuditVerification(false, null, at.entryId(), at.reason());
    }
}
