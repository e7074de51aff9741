package io.hypervise.server.network;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Who may plug adapters into which switch, and what a refusal says. */
class SwitchAllowanceTest {

    @Test
    void administratorsMayUseAnySwitch() {
        assertThat(SwitchAllowance.ANY.refusal("lab")).isEmpty();
    }

    @Test
    void callersNoPolicyGovernsAreSentToAnAdministrator() {
        assertThat(SwitchAllowance.NONE.allows("lab")).isFalse();
        assertThat(SwitchAllowance.NONE.refusal("lab")).hasValue("plugging an adapter into a virtual switch is for"
                + " administrators; leave it out to get the VM's own isolated network");
    }

    @Test
    void selfServiceUsersMayUseTheSwitchesTheirPoliciesNameAndAreToldWhichThoseAre() {
        SwitchAllowance lab = SwitchAllowance.byPolicies(new LinkedHashSet<>(List.of("lab", "dev")));
        assertThat(lab.refusal("lab")).isEmpty();
        assertThat(lab.refusal("prod")).hasValue("your policies allow only the switches lab, dev;"
                + " leave it out to get the VM's own isolated network");
        assertThat(SwitchAllowance.byPolicies(Set.of()).refusal("lab")).hasValue("your policies allow no virtual switch;"
                + " leave it out to get the VM's own isolated network");
    }
}
