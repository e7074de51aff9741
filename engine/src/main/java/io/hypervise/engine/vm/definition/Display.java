package io.hypervise.engine.vm.definition;

/** Whether a VM has a screen. Its screen is offered as RFB on a unix socket, never a TCP port. */
public enum Display {
    VNC,
    NONE
}
