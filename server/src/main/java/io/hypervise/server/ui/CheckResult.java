package io.hypervise.server.ui;

import io.hypervise.server.vm.VmService;
import java.util.List;

/** The answer of the wizard's "Check" button: would this VM be allowed, and if not why. */
public record CheckResult(boolean allowed, boolean governed, List<String> reasons, String name) {

    static CheckResult of(VmService.CreateCheck check, String name) {
        return new CheckResult(check.allowed(), check.governed(), check.reasons(), name);
    }
}
