package io.hypervise.engine.vm.worker;

import io.hypervise.engine.vm.StateRecord;
import java.nio.file.Path;

/** Where one VM's engine state lives: a folder per VM under the engine's state directory. */
public record VmFiles(Path dir) {

    public Path definition() {
        return dir.resolve("definition.json");
    }

    /** The live worker's record: PID, start time, phase. Present only while a worker may exist. */
    public Path worker() {
        return dir.resolve("worker.json");
    }

    public Path qmpSocket() {
        return dir.resolve("qmp.sock");
    }

    public Path vncSocket() {
        return dir.resolve("vnc.sock");
    }

    /** Everything the guest wrote to its serial console, across restarts (appended). */
    public Path serialLog() {
        return dir.resolve("serial.log");
    }

    /** The worker's own stdout and stderr: QEMU's error messages live here. */
    public Path workerLog() {
        return dir.resolve("worker.log");
    }

    /**
     * The VM's own copy of the UEFI firmware's variable store (boot entries, settings), made when a UEFI
     * VM is defined or first started; kept across saves and restarts and deleted with the VM.
     */
    public Path uefiVariables() {
        return dir.resolve("uefi-vars.fd");
    }

    public Path savedState() {
        return dir.resolve("saved.state");
    }

    public Path savedStatePartial() {
        return dir.resolve("saved.state.partial");
    }

    /** Written last when a save completes; the VM is Saved exactly when this and the state file exist. */
    public Path savedInfo() {
        return dir.resolve("saved.json");
    }

    /** The VM's last state and since when (a {@link StateRecord}). */
    public Path state() {
        return dir.resolve("state.json");
    }
}
