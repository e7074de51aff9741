package io.hypervise.server.access;

/**
 * The answer of {@link VmAccessRule}: allowed (and, for the console, whether only to watch), or refused
 * with the reason and how: as not found (the caller may not know the VM exists), by the caller's roles,
 * or by their self-service policies.
 */
public record VmDecision(Verdict verdict, String reason, boolean watchOnly) {

    public enum Verdict {
        ALLOWED(200),
        NOT_FOUND(404),
        FORBIDDEN(403),
        REFUSED_BY_POLICY(403);

        private final int status;

        Verdict(int status) {
            this.status = status;
        }

        /** The HTTP status a refusal is answered with. */
        public int status() {
            return status;
        }
    }

    static VmDecision allow(boolean watchOnly) {
        return new VmDecision(Verdict.ALLOWED, "allowed", watchOnly);
    }

    static VmDecision notFound(String reason) {
        return new VmDecision(Verdict.NOT_FOUND, reason, false);
    }

    static VmDecision forbidden(String reason) {
        return new VmDecision(Verdict.FORBIDDEN, reason, false);
    }

    static VmDecision refusedByPolicy(String reason) {
        return new VmDecision(Verdict.REFUSED_BY_POLICY, reason, false);
    }

    public boolean allowed() {
        return verdict == Verdict.ALLOWED;
    }
}
