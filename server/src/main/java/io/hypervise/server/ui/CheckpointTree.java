package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.checkpoint.CheckpointView;
import io.hypervise.server.vm.VmView;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A VM's checkpoints as its page shows them: a tree in reading order (each under its parent, indented by its
 * depth; siblings oldest first, so the newest comes last) with what the caller may do to each. A checkpoint
 * of disks only is not applied to a VM that runs: the page says why instead of offering it.
 */
public record CheckpointTree(List<Node> nodes) {

    /**
     * One checkpoint at its depth (0 for a root), with what is offered on it: {@code apply} is the question to
     * confirm applying it with (null where it is not offered), {@code held} why it cannot be applied now.
     */
    public record Node(CheckpointView checkpoint, int depth, String apply, String held, boolean rename, String delete) {

        /** The indent, for the page's style: deeper levels stay within the card. */
        public int indent() {
            return Math.min(depth, 8);
        }
    }

    static CheckpointTree of(List<CheckpointView> checkpoints, VmView vm, VmOffer.Checkpoints offer) {
        Set<String> ids = new HashSet<>();
        checkpoints.forEach(c -> ids.add(c.id()));
        Map<String, List<CheckpointView>> children = new HashMap<>();
        List<CheckpointView> roots = new ArrayList<>();
        for (CheckpointView c : checkpoints) {
            // A parent that is not listed (being deleted as this is read) makes its child a root, never lost.
            if (c.parent() == null || !ids.contains(c.parent())) {
                roots.add(c);
            } else {
                children.computeIfAbsent(c.parent(), p -> new ArrayList<>()).add(c);
            }
        }
        List<Node> nodes = new ArrayList<>();
        add(roots, 0, children, vm, offer, nodes);
        return new CheckpointTree(nodes);
    }

    private static void add(List<CheckpointView> level, int depth, Map<String, List<CheckpointView>> children, VmView vm,
            VmOffer.Checkpoints offer, List<Node> nodes) {
        level.stream().sorted(Comparator.comparing(CheckpointView::createdAt).thenComparing(CheckpointView::id)).forEach(c -> {
            nodes.add(node(c, depth, vm, offer));
            add(children.getOrDefault(c.id(), List.of()), depth + 1, children, vm, offer, nodes);
        });
    }

    private static Node node(CheckpointView c, int depth, VmView vm, VmOffer.Checkpoints offer) {
        boolean settled = c.pending() == null;
        boolean off = vm.state().equals(VmState.OFF.displayName());
        String apply = null;
        String held = null;
        if (offer.apply() && settled) {
            if (c.memory() || off) {
                apply = applyQuestion(c, vm, off);
            } else {
                held = "Taken while the VM was Off, so it holds no memory: turn the VM off to apply it.";
            }
        }
        String delete = offer.delete() && settled ? "Delete checkpoint '" + c.name() + "' of VM '" + vm.name()
                + "'? The VM stays as it is; only going back to this moment is no longer possible." : null;
        return new Node(c, depth, apply, held, offer.rename() && settled, delete);
    }

    /** What applying the checkpoint does to the VM, and what is lost with it. */
    private static String applyQuestion(CheckpointView c, VmView vm, boolean off) {
        String to = "Apply checkpoint '" + c.name() + "' to VM '" + vm.name() + "'? ";
        String when = Formats.time(c.createdAt());
        String what = c.memory()
                ? "The VM goes back to " + when + " and runs on from there" + (off ? " (it is started for it)" : "")
                        + ". Its present state, memory and disks, is lost"
                : "Its disks go back to " + when + ". What was written to them since is lost";
        return to + what + ", unless a checkpoint holds it.";
    }

    /** The checkpoint the VM is at, or null when it is at none. */
    public CheckpointView current() {
        return nodes.stream().map(Node::checkpoint).filter(CheckpointView::current).findFirst().orElse(null);
    }

    /** Whether a checkpoint is being taken or deleted: the page then asks again until that has ended. */
    public boolean pending() {
        return nodes.stream().anyMatch(n -> n.checkpoint().pending() != null);
    }

    public boolean isEmpty() {
        return nodes.isEmpty();
    }

    public int size() {
        return nodes.size();
    }
}
