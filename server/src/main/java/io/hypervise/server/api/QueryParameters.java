package io.hypervise.server.api;

import io.hypervise.server.api.FieldError;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;

/** Query parameters arrive as text, so a bad one is a violation naming it, never a 404 or a 500. */
public final class QueryParameters {

    public static final int DEFAULT_PAGE_SIZE = 50;
    public static final int MAX_PAGE_SIZE = 500;
    private static final int MAX_PAGE = 1_000_000;

    private QueryParameters() {
    }

    /** A whole number from min to max, {@code absent} when not given; otherwise a violation and {@code absent}. */
    public static int wholeNumber(String name, String value, int absent, int min, int max, List<FieldError> violations) {
        if (value == null || value.isBlank()) {
            return absent;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // the same answer as a number out of range
        }
        violations.add(new FieldError(name, "must be a whole number from " + min + " to " + max + "; got '" + value + "'"));
        return absent;
    }

    /** Text of at most {@code max} characters without U+0000 (which PostgreSQL cannot hold); null is fine. */
    public static String text(String name, String value, int max, List<FieldError> violations) {
        if (value != null && value.length() > max) {
            violations.add(new FieldError(name, "must be at most " + max + " characters"));
        } else if (value != null && value.indexOf('\u0000') >= 0) {
            violations.add(new FieldError(name, "must not contain the character U+0000"));
        }
        return value;
    }

    /** An ISO-8601 date-time with an offset; null when not given, or a violation and null. */
    public static Instant instant(String name, String value, List<FieldError> violations) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return OffsetDateTime.parse(value.trim()).toInstant();
        } catch (DateTimeParseException e) {
            violations.add(new FieldError(name, "must be an ISO-8601 date-time with an offset, such as"
                    + " 2026-11-25T01:02:03Z; got '" + value + "'"));
            return null;
        }
    }

    /** The page number (from 0). */
    public static int page(String value, List<FieldError> violations) {
        return wholeNumber("page", value, 0, 0, MAX_PAGE, violations);
    }

    /** The page size (1 to 500, 50 when not given). */
    public static int size(String value, List<FieldError> violations) {
        return wholeNumber("size", value, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE, violations);
    }

    /** Throws the violations collected so far, if there are any. */
    public static void check(List<FieldError> violations) {
        if (!violations.isEmpty()) {
            throw new InvalidRequestException("query parameters", violations);
        }
    }
}
