package io.hypervise.server.api;

/**
 * One broken rule in a request: the field or parameter it concerns and what the rule is. Problem
 * documents list them as {@code violations}, each {@code {"field": …, "message": …}}.
 */
public record FieldError(String field, String message) {

    @Override
    public String toString() {
        return field + ": " + message;
    }
}
