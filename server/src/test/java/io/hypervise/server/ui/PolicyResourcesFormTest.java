package io.hypervise.server.ui;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.engine.vm.definition.VmDefinitionValidator;
import io.hypervise.engine.vm.definition.Violation;
import io.hypervise.server.api.FieldError;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The policy's resource controls as the Policies page's dialog sends them, and as the page writes them. */
class PolicyResourcesFormTest {

    private static final long MIB = 1 << 20;

    @Test
    void eachFieldIsTheApisInItsUnitAndAnEmptyOneIsNoControl() {
        List<FieldError> v = new ArrayList<>();
        Resources r = PolicyResourcesForm.parse(null, Map.of("cpuWeight", "50", "cpuCapPercent", " ", "diskBytesPerSecond", "10",
                "diskIops", "200")::get, v);
        assertThat(v).isEmpty();
        assertThat(r).isEqualTo(new Resources(50, null, null, null, 10 * MIB, 200));
        assertThat(PolicyResourcesForm.parse(null, Map.of("diskBytesPerSecond", "0.5")::get, v).diskBytesPerSecond())
                .as("a fraction of its unit").isEqualTo(MIB / 2);
        assertThat(PolicyResourcesForm.parse(null, Map.<String, String>of()::get, v).isNone()).isTrue();
        assertThat(v).isEmpty();
    }

    @Test
    void whatTheFormDoesNotShowIsKeptAsThePolicyHasIt() {
        Resources now = new Resources(10, 20, 64, null, 5 * MIB, 30);
        Resources r = PolicyResourcesForm.parse(now, Map.of("cpuWeight", "11")::get, new ArrayList<>());
        assertThat(r).isEqualTo(new Resources(11, null, 64, null, null, null));
    }

    @Test
    void aWordIsRefusedByTheApisNameOfItsFieldAndANumberBeyondItsTypeByItsRange() {
        List<FieldError> v = new ArrayList<>();
        PolicyResourcesForm.parse(null, Map.of("cpuWeight", "abc", "cpuCapPercent", "1.5", "diskBytesPerSecond", "1e5",
                "diskIops", "12")::get, v);
        assertThat(v).containsExactly(new FieldError("vmResources.cpuWeight", "must be a whole number; got 'abc'"),
                new FieldError("vmResources.cpuCapPercent", "must be a whole number; got '1.5'"),
                new FieldError("vmResources.diskBytesPerSecond", "must be a number; got '1e5'"));

        List<FieldError> none = new ArrayList<>();
        Resources huge = PolicyResourcesForm.parse(null, Map.of("cpuWeight", "99999999999", "diskBytesPerSecond",
                "-999999999999999999999999999999", "diskIops", "99999999999999999999")::get, none);
        assertThat(none).isEmpty();
        assertThat(huge).isEqualTo(new Resources(Integer.MAX_VALUE, null, null, null, Long.MIN_VALUE, Integer.MAX_VALUE));
        assertThat(VmDefinitionValidator.resourceRanges(huge, "vmResources")).extracting(Violation::field)
                .containsExactly("vmResources.cpuWeight", "vmResources.diskBytesPerSecond", "vmResources.diskIops");
    }

    @Test
    void thePageWritesEachControlSetInItsUnit() {
        assertThat(PolicyResourcesForm.described(new Resources(50, 40, null, null, 98304L, 200)))
                .containsExactly("CPU weight 50", "CPU cap 40 %", "Disk throughput 0.09 MiB/s", "Disk operations 200 per second");
        assertThat(PolicyResourcesForm.described(Resources.NONE)).isEmpty();
    }
}
