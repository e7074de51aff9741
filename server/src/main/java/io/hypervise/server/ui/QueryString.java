package io.hypervise.server.ui;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** Builds the query string of a link that keeps a list's filters; empty values are left out. */
final class QueryString {

    private final StringBuilder query = new StringBuilder();

    QueryString and(String key, Object value) {
        if (value != null && !value.toString().isEmpty()) {
            query.append(query.isEmpty() ? "" : "&").append(key).append('=')
                    .append(URLEncoder.encode(value.toString(), StandardCharsets.UTF_8));
        }
        return this;
    }

    @Override
    public String toString() {
        return query.toString();
    }
}
