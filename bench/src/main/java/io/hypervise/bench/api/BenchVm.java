package io.hypervise.bench.api;

import java.util.List;

/**
 * The n-th VM the benchmark creates: a full definition that needs no disk image and is never started.
 * It boots a kernel from one shared file in the storage root (so 10,000 VMs need no 10,000 images) and
 * has one network adapter with a MAC of its own, derived from n: the server's random MACs (24 bits)
 * would collide somewhere among 10,000 VMs and that creation would be refused. Owners take turns among
 * the owners below, so half of the VMs belong to each.
 */
record BenchVm(int number) {

    /**
     * The demo users that may create VMs from full definitions (self-service users create from
     * templates only, within their policies: see docs/operator-guide.md).
     */
    static final List<String> OWNERS = List.of("admin", "operator");
    static final String KERNEL = "bench-kernel";

    BenchVm {
        if (number < 0 || number >= 1 << 24) {
            throw new IllegalArgumentException("VM number " + number + " has no MAC of its own");
        }
    }

    String name() {
        return String.format("bench-%05d", number);
    }

    String owner() {
        return OWNERS.get(number % OWNERS.size());
    }

    String realmRole() {
        return switch (owner()) {
            case "admin" -> "hv-admin";
            case "operator" -> "hv-operator";
            default -> "hv-self-service";
        };
    }

    /** In 52:54:01, next to QEMU's 52:54:00 from which the server picks random MACs. */
    String mac() {
        return String.format("52:54:01:%02x:%02x:%02x", (number >> 16) & 0xff, (number >> 8) & 0xff, number & 0xff);
    }

    String json() {
        return """
                {"name":"%s","vcpus":1,"memoryMib":128,"display":"none",\
                "boot":{"kind":"kernel","kernel":"%s"},"disks":[],"nics":[{"mac":"%s"}]}""".formatted(name(), KERNEL, mac());
    }
}
