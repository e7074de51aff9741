package io.hypervise.server.placement;

import java.util.List;

/**
 * A VM described for placement's what-if: what it needs of a host.
 *
 * @param vcpus     its vCPUs (1 to 64)
 * @param memoryMib its memory (1 to 1048576 MiB)
 * @param diskMib   what its disks need on the host's own storage (0 or more; default 0)
 * @param switches  ids of the virtual switches its network adapters are plugged into
 * @param hostGroup the host group it must run in; null: any
 */
public record WhatIf(Integer vcpus, Long memoryMib, Long diskMib, List<String> switches, String hostGroup) {
}
