package io.hypervise.server.policy;

/** What a user's VMs take up: how many, their vCPUs, memory and disk (MiB). */
public record Usage(int vms, int vcpus, long memoryMib, long diskMib) {

    public static final Usage NONE = new Usage(0, 0, 0, 0);
}
