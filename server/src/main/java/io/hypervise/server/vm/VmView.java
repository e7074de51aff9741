package io.hypervise.server.vm;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.hypervise.engine.storage.DiskImages;
import io.hypervise.engine.vm.Unresponsive;
import io.hypervise.engine.vm.VmAction;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.server.inventory.VmEntity;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Optional;

/**
 * A VM as the API shows it, with the actions its state offers; {@code unresponsive} (since when, and
 * what went unanswered) while its worker does not answer, else null; {@code pending} is "creating",
 * "deleting", "storing" or "exporting" while that is under way (actions on it are refused meanwhile), null
 * otherwise. {@code maxVcpus} and {@code maxMemoryMib} are the most it may have while it runs (vCPUs and memory
 * added then): its own vcpus and memoryMib when it was given no room to grow.
 */
public record VmView(
        String id,
        String name,
        String owner,
        String host,
        String template,
        String state,
        String reason,
        Instant since,
        int vcpus,
        int memoryMib,
        int maxVcpus,
        int maxMemoryMib,
        String profile,
        String display,
        String firmware,
        List<DiskView> disks,
        List<NicView> nics,
        Resources resources,
        CdRomView cdrom,
        Long workerPid,
        List<String> actions,
        Lease lease,
        Unresponsive unresponsive,
        String pending) {

    /** When the VM's lease ends (from its self-service policy), and whether it was warned and stopped. */
    public record Lease(Instant expiresAt, Instant warnedAt, Instant stoppedAt) {
    }

    /**
     * A network adapter: its name in the counters, its MAC, its virtual switch (null: the isolated network)
     * and the switch's VLAN it is on (null: the default).
     */
    public record NicView(String nic, String mac, @JsonProperty("switch") String switchId, Integer vlan) {
    }

    /**
     * A disk: its image, format, size where known, whether the VM owns it (deleted with the VM), the
     * library item it was made from, the base image a linked clone reads (null for others), and whether it is a
     * whole host block device passed through (its path the device's).
     */
    public record DiskView(String path, String format, boolean readOnly, Long sizeBytes, boolean owned, String libraryItem,
            String base, boolean hostDevice) {
    }

    /**
     * The VM's CD-ROM drive (the view has none when the VM has no drive): the ISO image in it and the library
     * item it is, both null when the drive is empty; {@code library} is null too for an image named by path.
     */
    public record CdRomView(String library, String image) {

        public boolean empty() {
            return image == null;
        }
    }

    /** From the inventory's record, with the engine's live state where the engine has the VM. */
    static VmView of(VmEntity vm, Optional<VmStatus> live, DiskImages images) {
        VmState state = live.map(VmStatus::state).orElse(vm.state);
        Optional<Unresponsive> silent = live.flatMap(VmStatus::unresponsive);
        return new VmView(vm.id, vm.name, vm.owner, vm.hostId, vm.templateId, state.displayName(),
                live.map(VmStatus::reason).orElse(vm.stateReason),
                live.map(VmStatus::since).orElse(vm.stateSince),
                vm.vcpus, vm.memoryMib, vm.maxVcpus == null ? vm.vcpus : Math.max(vm.maxVcpus, vm.vcpus),
                vm.maxMemoryMib == null ? vm.memoryMib : Math.max(vm.maxMemoryMib, vm.memoryMib), lower(vm.profile),
                lower(vm.display), lower(vm.firmware),
                vm.disks.stream().map(d -> new DiskView(d.path, lower(d.format), d.readOnly,
                        d.sizeBytes, images.owns(vm.id, Path.of(d.path)), d.libraryItemId, d.backingPath, d.hostDevice)).toList(),
                vm.nics.stream().map(n -> new NicView("net" + n.position, n.mac, n.switchId, n.vlan)).toList(),
                vm.resources == null ? Resources.NONE : vm.resources.toResources(),
                vm.cdromDrive ? new CdRomView(vm.cdromImage == null ? null : vm.bootLibraryItemId, vm.cdromImage) : null,
                live.flatMap(s -> s.workerPid().isPresent() ? Optional.of(s.workerPid().getAsLong()) : Optional.empty()).orElse(null),
                // The engine refuses all but turning off while the worker does not answer.
                silent.isEmpty() ? ACTIONS.get(state) : TURN_OFF_ONLY.get(state),
                vm.leaseExpiresAt == null ? null : new Lease(vm.leaseExpiresAt, vm.leaseWarnedAt, vm.leaseStoppedAt),
                silent.orElse(null),
                vm.pending == null ? null : lower(vm.pending));
    }

    // Computed once: a list of VMs would otherwise spell each of them anew for every VM.
    private static final Map<VmAction, String> ACTION_NAMES = actionNames();
    // Migration is the engine's, not yet the API's (it comes with hosts joining a cluster): not offered.
    private static final Map<VmState, List<String>> ACTIONS = actions(a -> a != VmAction.MIGRATE);
    private static final Map<VmState, List<String>> TURN_OFF_ONLY = actions(a -> a == VmAction.TURN_OFF);
    private static final Map<Enum<?>, String> LOWER = new ConcurrentHashMap<>();

    private static Map<VmAction, String> actionNames() {
        Map<VmAction, String> names = new EnumMap<>(VmAction.class);
        for (VmAction a : VmAction.values()) {
            names.put(a, a.name().toLowerCase(Locale.ROOT).replace('_', '-'));
        }
        return names;
    }

    /** How {@code actions} names an engine action ("turn-off"). */
    public static String actionName(VmAction action) {
        return ACTION_NAMES.get(action);
    }

    private static Map<VmState, List<String>> actions(java.util.function.Predicate<VmAction> offered) {
        Map<VmState, List<String>> byState = new EnumMap<>(VmState.class);
        for (VmState s : VmState.values()) {
            byState.put(s, VmStateMachine.actionsIn(s).stream().filter(offered).map(VmView::actionName).toList());
        }
        return byState;
    }

    /** How the API spells an enum's constant: its name in lower case. */
    private static String lower(Enum<?> e) {
        return LOWER.computeIfAbsent(e, c -> c.name().toLowerCase(Locale.ROOT));
    }
}
