package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.inventory.HostEntity;
import io.hypervise.server.inventory.VmEntity;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** The left pane of the admin console: host groups, their hosts, and how many VMs each runs. */
public record HostTree(List<Group> groups, String selectedHost) {

    public record Group(String name, List<Node> hosts) {
    }

    public record Node(String id, String name, String accelerator, long vms, long running, boolean selected) {
    }

    /** Reads the hosts and their VM counts; call inside a transaction. */
    static HostTree load(String selectedHost) {
        Map<String, List<Node>> groups = new TreeMap<>();
        for (HostEntity h : HostEntity.<HostEntity>listAll()) {
            long vms = VmEntity.count("hostId", h.id);
            long running = VmEntity.count("hostId = ?1 and state = ?2", h.id, VmState.RUNNING);
            groups.computeIfAbsent(h.hostGroup, g -> new java.util.ArrayList<>()).add(new Node(h.id, h.name,
                    h.accelerator == null ? "" : h.accelerator.name(), vms, running, h.id.equals(selectedHost)));
        }
        return new HostTree(groups.entrySet().stream().map(e -> new Group(e.getKey(), e.getValue()))
                .collect(Collectors.toList()), selectedHost);
    }
}
