package io.hypervise.server.access;

/** How far a permission extends: not at all, to what the caller owns, or to everything. */
public enum Reach {
    NONE,
    OWN,
    ALL;

    Reach widest(Reach other) {
        return compareTo(other) >= 0 ? this : other;
    }
}
