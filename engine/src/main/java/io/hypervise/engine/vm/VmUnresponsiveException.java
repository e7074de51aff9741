package io.hypervise.engine.vm;

/**
 * A VM's worker did not answer in time, or has not answered since it last did not: the action was not
 * carried out, as far as anyone can tell. A worker that answers later may still carry out what it had
 * been sent; the VM's state then follows what it does.
 */
public final class VmUnresponsiveException extends VmOperationException {

    public VmUnresponsiveException(String message) {
        super(message);
    }

    public VmUnresponsiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
