package io.hypervise.server.ui;

import io.hypervise.engine.vm.definition.Resources;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.access.Caller;
import io.hypervise.server.policy.AppliedPolicy;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.PolicySettings;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.vm.VmView;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What the pages offer on a VM: its state's actions, cut down to the caller's roles and policies. */
class VmOfferTest {

    private static final Caller ADMIN = Caller.of("admin", Set.of("hv-admin"), Set.of(), "127.0.0.1");
    private static final Caller AUDITOR = Caller.of("auditor", Set.of("hv-auditor"), Set.of(), "127.0.0.1");
    private static final Caller BOB = Caller.of("bob", Set.of("hv-self-service"), Set.of("qa"), "127.0.0.1");

    @Test
    void anAdministratorGetsEverythingTheStateAllows() {
        VmOffer offer = VmOffer.of(ADMIN, aVm("Running", "alice"), null);
        assertThat(paths(offer)).containsExactly("shut-down", "turn-off", "pause", "save", "restart");
        assertThat(offer.console()).isEqualTo("use");
        assertThat(offer.settings()).isTrue();
        assertThat(offer.delete()).as("a running VM cannot be deleted").isNull();
        assertThat(VmOffer.of(ADMIN, aVm("Off", "alice"), null).delete().confirm())
                .isEqualTo("Delete VM 'box' and the disks created for it? This cannot be undone.");
    }

    @Test
    void anAuditorGetsNothingAtAll() {
        VmOffer offer = VmOffer.of(AUDITOR, aVm("Running", "alice"), null);
        assertThat(offer.any()).isFalse();
        assertThat(offer.console()).as("auditors see no screens").isNull();
    }

    @Test
    void aSelfServiceUserGetsWhatTheirPolicyAllowsOnTheirOwnVms() {
        EffectivePolicy startAndWatch = policy(SelfServiceAction.START, SelfServiceAction.CONSOLE_VIEW_ONLY,
                SelfServiceAction.TURN_OFF);
        assertThat(paths(VmOffer.of(BOB, aVm("Off", "bob"), startAndWatch))).containsExactly("start");
        VmOffer running = VmOffer.of(BOB, aVm("Running", "bob"), startAndWatch);
        assertThat(paths(running)).as("turn-off covers reset, its hard twin").containsExactly("turn-off", "restart");
        assertThat(running.console()).isEqualTo("watch");
        assertThat(running.settings()).isFalse();
        assertThat(running.delete()).isNull();
        assertThat(VmOffer.of(BOB, aVm("Running", "alice"), startAndWatch).any()).as("someone else's VM").isFalse();
    }

    @Test
    void withoutAnyConsoleActionThereIsNoConsole() {
        VmOffer pauseOnly = VmOffer.of(BOB, aVm("Running", "bob"), policy(SelfServiceAction.PAUSE));
        assertThat(pauseOnly.console()).isNull();
        assertThat(pauseOnly.screen()).as("no console, so no thumbnail either").isFalse();
        assertThat(VmOffer.of(ADMIN, aVm("Running", "bob"), null).screen()).isTrue();
        assertThat(VmOffer.of(ADMIN, aVm("Off", "bob"), null).screen()).as("an Off VM has no screen").isFalse();
        assertThat(VmOffer.of(BOB, aVm("Paused", "bob"), policy(SelfServiceAction.PAUSE, SelfServiceAction.CONSOLE)).console())
                .isEqualTo("use");
    }

    @Test
    void exportAndStoreAreOfferedOnASettledOffVmToWhoeverMay() {
        VmOffer off = VmOffer.of(ADMIN, aVm("Off", "alice"), null);
        assertThat(off.export()).isTrue();
        assertThat(off.store()).isTrue();
        VmOffer running = VmOffer.of(ADMIN, aVm("Running", "alice"), null);
        assertThat(running.export()).as("its disks do not hold still").isFalse();
        assertThat(running.store()).isFalse();
        VmOffer exporting = VmOffer.of(ADMIN, aVm("Off", "alice", "exporting"), null);
        assertThat(exporting.export()).as("an export under way holds the VM").isFalse();
        assertThat(exporting.store()).isFalse();

        VmOffer withoutExport = VmOffer.of(BOB, aVm("Off", "bob"), policy(SelfServiceAction.START));
        assertThat(withoutExport.export()).as("his policy does not name export").isFalse();
        assertThat(withoutExport.store()).as("templates are administrators' and operators'").isFalse();
        VmOffer withExport = VmOffer.of(BOB, aVm("Off", "bob"), policy(SelfServiceAction.START, SelfServiceAction.EXPORT));
        assertThat(withExport.export()).isTrue();
        assertThat(withExport.store()).isFalse();
        assertThat(VmOffer.of(AUDITOR, aVm("Off", "alice"), null).any()).isFalse();
    }

    @Test
    void checkpointsAndDisksAreOfferedWhereTheStateAndTheCallersPoliciesAllow() {
        VmOffer off = VmOffer.of(ADMIN, aVm("Off", "alice"), null);
        assertThat(off.checkpoints()).isEqualTo(new VmOffer.Checkpoints(true, true, true, true));
        assertThat(off.disks()).isEqualTo(new VmOffer.Disks(true, true, true));
        assertThat(VmOffer.of(ADMIN, aVm("Running", "alice"), null).disks()).as("disks change while it runs")
                .isEqualTo(new VmOffer.Disks(true, true, true));

        VmOffer saved = VmOffer.of(ADMIN, aVm("Saved", "alice"), null);
        assertThat(saved.checkpoints()).as("a Saved VM's memory belongs to its disks as they are; a name may still change")
                .isEqualTo(new VmOffer.Checkpoints(false, false, true, false));
        assertThat(saved.disks()).isEqualTo(new VmOffer.Disks(false, false, false));
        VmOffer exporting = VmOffer.of(ADMIN, aVm("Off", "alice", "exporting"), null);
        assertThat(exporting.checkpoints().take()).as("an export under way holds the VM").isFalse();
        assertThat(exporting.disks().add()).isFalse();

        VmOffer withoutCheckpoint = VmOffer.of(BOB, aVm("Off", "bob"), policy(SelfServiceAction.START, SelfServiceAction.RECONFIGURE));
        assertThat(withoutCheckpoint.checkpoints().any()).as("his policy does not name checkpoint").isFalse();
        assertThat(withoutCheckpoint.disks()).as("reconfigure covers disks").isEqualTo(new VmOffer.Disks(true, true, true));
        VmOffer withCheckpoint = VmOffer.of(BOB, aVm("Off", "bob"), policy(SelfServiceAction.CHECKPOINT));
        assertThat(withCheckpoint.checkpoints()).isEqualTo(new VmOffer.Checkpoints(true, true, true, true));
        assertThat(withCheckpoint.disks()).isEqualTo(new VmOffer.Disks(false, false, false));
        assertThat(VmOffer.of(AUDITOR, aVm("Off", "alice"), null).checkpoints().any()).isFalse();
        assertThat(VmOffer.of(AUDITOR, aVm("Off", "alice"), null).disks()).isEqualTo(new VmOffer.Disks(false, false, false));
        assertThat(off.cdrom()).as("a CD goes in and out whether the VM runs or not").isTrue();
        assertThat(VmOffer.of(ADMIN, aVm("Running", "alice"), null).cdrom()).isTrue();
        assertThat(saved.cdrom()).isFalse();
        assertThat(withoutCheckpoint.cdrom()).as("reconfigure covers the CD-ROM").isTrue();
        assertThat(withCheckpoint.cdrom()).isFalse();
        assertThat(VmOffer.of(AUDITOR, aVm("Off", "alice"), null).cdrom()).isFalse();
    }

    @Test
    void resourceControlsAreOfferedToAdministratorsInAnySettledStateAndNeverBySelfService() {
        assertThat(VmOffer.of(ADMIN, aVm("Running", "alice"), null).resources()).isTrue();
        assertThat(VmOffer.of(ADMIN, aVm("Saved", "alice"), null).resources()).isTrue();
        assertThat(VmOffer.of(ADMIN, aVm("Off", "alice", "exporting"), null).resources()).as("an export holds the VM").isFalse();
        assertThat(VmOffer.of(AUDITOR, aVm("Off", "alice"), null).resources()).isFalse();
        EffectivePolicy everything = policy(SelfServiceAction.START, SelfServiceAction.values());
        assertThat(VmOffer.of(BOB, aVm("Off", "bob"), everything).resources()).as("the host's fairness is not the owner's")
                .isFalse();
    }

    @Test
    void networkAdaptersAreOfferedWhereTheStateAndTheCallersPoliciesAllow() {
        assertThat(VmOffer.of(ADMIN, aVm("Off", "alice"), null).nics()).isEqualTo(new VmOffer.Nics(true, true));
        assertThat(VmOffer.of(ADMIN, aVm("Running", "alice"), null).nics()).as("adapters change while it runs")
                .isEqualTo(new VmOffer.Nics(true, true));
        assertThat(VmOffer.of(ADMIN, aVm("Saved", "alice"), null).nics()).isEqualTo(new VmOffer.Nics(false, false));
        assertThat(VmOffer.of(ADMIN, aVm("Off", "alice", "exporting"), null).nics().add()).as("an export holds the VM").isFalse();
        assertThat(VmOffer.of(BOB, aVm("Off", "bob"), policy(SelfServiceAction.RECONFIGURE)).nics())
                .as("reconfigure covers adapters").isEqualTo(new VmOffer.Nics(true, true));
        assertThat(VmOffer.of(BOB, aVm("Off", "bob"), policy(SelfServiceAction.CHECKPOINT)).nics()).isEqualTo(new VmOffer.Nics(false, false));
        assertThat(VmOffer.of(AUDITOR, aVm("Off", "alice"), null).nics()).isEqualTo(new VmOffer.Nics(false, false));
    }

    private static List<String> paths(VmOffer offer) {
        return offer.actions().stream().map(UiAction::path).toList();
    }

    private static EffectivePolicy policy(SelfServiceAction first, SelfServiceAction... more) {
        PolicySettings settings = new PolicySettings(Set.of("default"), Set.of("stub"), EnumSet.of(first, more),
                null, null, null, null, null, null, null, null);
        return EffectivePolicy.combine(List.of(new AppliedPolicy("p", "P", 10, false, false, settings)));
    }

    /** A VM in a state, with the actions the API lists for that state. */
    private static VmView aVm(String state, String owner) {
        return aVm(state, owner, null);
    }

    private static VmView aVm(String state, String owner, String pending) {
        List<String> storage = List.of("checkpoint", "apply-checkpoint", "delete-checkpoint", "resize-disk", "add-disk",
                "remove-disk");
        List<String> actions = new java.util.ArrayList<>(switch (state) {
            case "Off" -> List.of("start", "reconfigure", "delete");
            case "Running" -> List.of("pause", "save", "shut-down", "turn-off", "restart", "reconfigure");
            case "Paused" -> List.of("resume", "save", "turn-off", "reconfigure");
            case "Saved" -> List.of("start", "discard-saved-state", "delete");
            default -> List.of();
        });
        if (List.of("Off", "Running", "Paused").contains(state)) {
            actions.addAll(storage);
        }
        if (List.of("Off", "Running", "Paused", "Saved").contains(state)) {
            actions.add("change-resources");
        }
        if (List.of("Off", "Running", "Paused").contains(state)) {
            actions.add("change-medium");
            actions.addAll(List.of("add-nic", "remove-nic", "change-vcpus", "change-memory"));
        }
        return new VmView("vm-1", "box", owner, "host", null, state, null, Instant.now(), 1, 128, 1, 128, "enlightened", "vnc", "bios",
                List.of(), List.of(), Resources.NONE, null, null, actions, null, null, pending);
    }
}
