package io.hypervise.server.ui;

import io.hypervise.server.audit.AuditOutcome;
import java.util.Arrays;
import java.util.List;

/** The audit-log viewer's filters as the user typed them (shown again in the form). */
public record AuditFilter(String actor, String action, String target, String outcome, String from, String to, int page) {

    public List<String> outcomes() {
        return Arrays.stream(AuditOutcome.values()).map(Enum::name).toList();
    }

    public String previous() {
        return query(page - 1);
    }

    public String next() {
        return query(page + 1);
    }

    /** The query string of this list at another page. */
    public String query(int atPage) {
        return new QueryString().and("page", atPage).and("actor", actor).and("action", action).and("target", target)
                .and("outcome", outcome).and("from", from).and("to", to).toString();
    }
}
