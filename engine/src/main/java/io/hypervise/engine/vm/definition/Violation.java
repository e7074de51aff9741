package io.hypervise.engine.vm.definition;

/** One broken rule in a request: the field it concerns and what the rule is. */
public record Violation(String field, String message) {

    @Override
    public String toString() {
        return field + ": " + message;
    }
}
