package io.hypervise.server.access;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class CallerTest {

    private static Caller caller(String name, String... realmRoles) {
        return Caller.of(name, Set.of(realmRoles), Set.of(), "127.0.0.1");
    }

    @ParameterizedTest(name = "{0} -> {1}: {2}")
    @CsvSource({
            "hv-admin, POLICY_MANAGE, ALL",
            "hv-admin, AUDIT_READ, ALL",
            "hv-operator, VM_DELETE, ALL",
            "hv-operator, AUDIT_READ, NONE",
            "hv-operator, POLICY_MANAGE, NONE",
            "hv-auditor, AUDIT_READ, ALL",
            "hv-auditor, VM_READ, ALL",
            "hv-auditor, VM_OPERATE, NONE",
            "hv-auditor, VM_CREATE, NONE",
            "hv-self-service, VM_READ, OWN",
            "hv-self-service, VM_OPERATE, OWN",
            "hv-admin, VM_MIGRATE, ALL",
            "hv-operator, VM_MIGRATE, ALL",
            "hv-auditor, VM_MIGRATE, NONE",
            "hv-self-service, VM_MIGRATE, NONE",
            "hv-self-service, HOST_READ, NONE",
            "hv-self-service, AUDIT_READ, NONE",
            "offline_access, VM_READ, NONE",
    })
    void eachRoleReachesWhatTheTableSays(String role, Permission permission, Reach expected) {
        assertThat(caller("someone", role).reach(permission)).isEqualTo(expected);
    }

    @Test
    void onlyTheHostsServiceRoleMayCarryOutOperationsForOtherServersAndItMayDoNothingElse() {
        for (HvRole role : HvRole.values()) {
            assertThat(role.reach(Permission.HOST_PEER)).as(role.realmRole())
                    .isEqualTo(role == HvRole.HOST ? Reach.ALL : Reach.NONE);
        }
        Caller host = caller("service-account-hypervise-host", "hypervise-host");
        for (Permission permission : Permission.values()) {
            assertThat(host.reach(permission)).as(permission.name())
                    .isEqualTo(permission == Permission.HOST_PEER ? Reach.ALL : Reach.NONE);
        }
        // Every person's role together still does not reach it.
        assertThat(caller("root", "hv-admin", "hv-operator", "hv-auditor", "hv-self-service").reach(Permission.HOST_PEER))
                .isEqualTo(Reach.NONE);
    }

    @Test
    void severalRolesGiveTheWidestReach() {
        assertThat(caller("carol", "hv-self-service", "hv-auditor").reach(Permission.VM_READ)).isEqualTo(Reach.ALL);
        assertThat(caller("carol", "hv-self-service", "hv-auditor").reach(Permission.VM_OPERATE)).isEqualTo(Reach.OWN);
    }

    @Test
    void selfServiceUsersMayActOnlyOnTheirOwnVms() {
        Caller alice = caller("alice", "hv-self-service");
        assertThat(alice.decide(Permission.VM_OPERATE, "alice").allowed()).isTrue();
        assertThat(alice.decide(Permission.VM_OPERATE, "bob"))
                .isEqualTo(Decision.deny("alice may operate VMs only for their own VMs"));
    }

    @Test
    void aDenialSaysWhichRolesTheCallerHas() {
        assertThat(caller("auditor", "hv-auditor").decide(Permission.VM_OPERATE, "alice").reason())
                .isEqualTo("auditor has no role that may operate VMs (roles: hv-auditor)");
    }
}
