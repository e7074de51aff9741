package io.hypervise.server.audit;

import java.util.List;

/** One page of a query's entries, newest first, and how many entries match in all. */
public record AuditPage(List<AuditEntryView> items, int page, int size, long total) {
}
