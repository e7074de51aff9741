package io.hypervise.engine.vm;

import io.hypervise.engine.EngineException;

/** An action that the VM's current state does not allow, e.g. pausing a Saved VM. */
public final class VmStateException extends EngineException {

    private final VmAction action;
    private final VmState state;

    public VmStateException(String vmName, VmAction action, VmState state) {
        super("cannot " + action.verb() + " VM '" + vmName + "' while it is " + state.displayName()
                + "; " + action.verb() + " is possible when it is " + VmStateMachine.describeAllowed(action));
        this.action = action;
        this.state = state;
    }

    /** Refused for a reason more particular than the state alone, said in {@code message}. */
    public VmStateException(VmAction action, VmState state, String message) {
        super(message);
        this.action = action;
        this.state = state;
    }

    public VmAction action() {
        return action;
    }

    public VmState state() {
        return state;
    }
}
