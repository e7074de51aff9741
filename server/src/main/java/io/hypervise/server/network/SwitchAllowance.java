package io.hypervise.server.network;

import java.util.Optional;
import java.util.Set;

/**
 * Which virtual switches a caller may plug VMs' adapters into, and why not the others: administrators
 * any, self-service users those their policies name, everyone else none. Made by
 * {@link Switches#allowanceOf}; one rule for the API's checks and the pages' choices.
 *
 * @param any      whether every switch is allowed
 * @param governed whether self-service policies decide (then {@code named} are the switches they name)
 */
public record SwitchAllowance(boolean any, boolean governed, Set<String> named) {

    public static final SwitchAllowance ANY = new SwitchAllowance(true, false, Set.of());
    public static final SwitchAllowance NONE = new SwitchAllowance(false, false, Set.of());

    static SwitchAllowance byPolicies(Set<String> named) {
        return new SwitchAllowance(false, true, named);
    }

    public boolean allows(String switchId) {
        return any || named.contains(switchId);
    }

    /** Why the caller may not use the switch, in words for them; empty where they may. */
    public Optional<String> refusal(String switchId) {
        if (allows(switchId)) {
            return Optional.empty();
        }
        String rest = "; leave it out to get the VM's own isolated network";
        if (!governed) {
            return Optional.of("plugging an adapter into a virtual switch is for administrators" + rest);
        }
        return Optional.of("your policies allow "
                + (named.isEmpty() ? "no virtual switch" : "only the switches " + String.join(", ", named)) + rest);
    }
}
