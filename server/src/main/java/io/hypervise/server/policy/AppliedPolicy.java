package io.hypervise.server.policy;

/**
 * A policy that applies to a user, and how: assigned to them by name ({@code direct}) or through one
 * of their groups.
 */
public record AppliedPolicy(String id, String name, int precedence, boolean enforced, boolean direct,
        PolicySettings settings) {
}
