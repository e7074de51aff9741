package io.hypervise.server.ui;

import io.hypervise.engine.vm.definition.Resources;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.checkpoint.CheckpointView;
import io.hypervise.server.vm.VmView;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A VM's checkpoints as its page shows them: in tree order with depths, and what is offered on each. */
class CheckpointTreeTest {

    private static final Instant T0 = Instant.parse("2026-12-06T14:03:00Z");
    private static final VmOffer.Checkpoints ALL = new VmOffer.Checkpoints(true, true, true, true);

    @Test
    void eachCheckpointComesUnderItsParentSiblingsOldestFirst() {
        // a ─ b ─ c        (taken in that order; then a applied and d taken: a branch)
        //   └ d ─ e
        List<CheckpointView> listed = new ArrayList<>(List.of(
                cp("a", null, 0, false), cp("b", "a", 1, false), cp("c", "b", 2, false), cp("d", "a", 3, false),
                cp("e", "d", 4, true)));
        java.util.Collections.reverse(listed);
        CheckpointTree tree = CheckpointTree.of(listed, aVm("Off"), ALL);
        assertThat(tree.nodes()).extracting(n -> n.checkpoint().id() + n.depth())
                .containsExactly("a0", "b1", "c2", "d1", "e2");
        assertThat(tree.current().id()).as("you are here").isEqualTo("e");
        assertThat(tree.nodes().getLast().checkpoint().id()).as("the newest at the bottom").isEqualTo("e");
    }

    @Test
    void aCheckpointWhoseParentIsNotListedIsARoot() {
        CheckpointTree tree = CheckpointTree.of(List.of(cp("b", "gone", 1, true)), aVm("Off"), ALL);
        assertThat(tree.nodes()).extracting(CheckpointTree.Node::depth).containsExactly(0);
    }

    @Test
    void aCheckpointOfDisksOnlyIsAppliedToAnOffVmAndExplainedOnARunningOne() {
        CheckpointView disks = cp("a", null, 0, false);
        CheckpointTree.Node off = CheckpointTree.of(List.of(disks), aVm("Off"), ALL).nodes().getFirst();
        assertThat(off.apply()).isEqualTo("Apply checkpoint 'a' to VM 'box'? Its disks go back to 2026-12-06 14:03:00 UTC."
                + " What was written to them since is lost, unless a checkpoint holds it.");
        assertThat(off.held()).isNull();

        CheckpointTree.Node running = CheckpointTree.of(List.of(disks), aVm("Running"), ALL).nodes().getFirst();
        assertThat(running.apply()).as("not offered").isNull();
        assertThat(running.held()).isEqualTo("Taken while the VM was Off, so it holds no memory: turn the VM off to apply it.");
        assertThat(running.delete()).as("deleted in any state that takes it").isNotNull();

        CheckpointView memory = new CheckpointView("m", "vm-1", null, "m", true, 1, T0, "alice", false, null);
        assertThat(CheckpointTree.of(List.of(memory), aVm("Off"), ALL).nodes().getFirst().apply())
                .isEqualTo("Apply checkpoint 'm' to VM 'box'? The VM goes back to 2026-12-06 14:03:00 UTC and runs on from"
                        + " there (it is started for it). Its present state, memory and disks, is lost, unless a checkpoint"
                        + " holds it.");
    }

    @Test
    void nothingIsOfferedOnACheckpointUnderWayNorBeyondTheOffer() {
        CheckpointView taking = new CheckpointView("t", "vm-1", null, "t", false, 0, T0, "alice", false, "taking");
        CheckpointTree tree = CheckpointTree.of(List.of(taking), aVm("Off"), ALL);
        CheckpointTree.Node node = tree.nodes().getFirst();
        assertThat(node.apply()).isNull();
        assertThat(node.rename()).isFalse();
        assertThat(node.delete()).isNull();
        assertThat(tree.pending()).isTrue();

        CheckpointTree.Node renameOnly = CheckpointTree.of(List.of(cp("a", null, 0, true)), aVm("Off"),
                new VmOffer.Checkpoints(false, false, true, false)).nodes().getFirst();
        assertThat(renameOnly.apply()).isNull();
        assertThat(renameOnly.held()).as("nothing to explain where applying is not the caller's").isNull();
        assertThat(renameOnly.rename()).isTrue();
        assertThat(renameOnly.delete()).isNull();
    }

    private static CheckpointView cp(String id, String parent, int minutes, boolean current) {
        return new CheckpointView(id, "vm-1", parent, id, false, 1 << 20, T0.plusSeconds(60L * minutes), "alice", current, null);
    }

    private static VmView aVm(String state) {
        return new VmView("vm-1", "box", "alice", "host", null, state, null, T0, 1, 128, 1, 128, "enlightened", "vnc", "bios",
                List.of(), List.of(), Resources.NONE, null, null, List.of(), null, null, null);
    }
}
