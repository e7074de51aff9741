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

    /**
     * The one folder the worker may write to (its sockets live here), owned by the VM's own user when it is
     * confined. Everything else in the VM's folder is the engine's: a worker that cannot write there cannot
     * rewrite its own definition or lay a link where the engine writes.
     */
    public Path runDir() {
        return dir.resolve("run");
    }

    public Path qmpSocket() {
        return runDir().resolve("qmp.sock");
    }

    public Path vncSocket() {
        return runDir().resolve("vnc.sock");
    }

    /** Where the engine listens for a saving worker's migration stream. */
    public Path saveSocket() {
        return runDir().resolve("out.sock");
    }

    /** Where a restoring worker listens for the saved state (short: unix socket paths are). */
    public Path restoreSocket() {
        return runDir().resolve("in.sock");
    }

    /**
     * Where images opened while the worker runs are mounted, one file each, for a confined worker to see them
     * in its own mount namespace (a shared mount on the host whose copy in the namespace is its slave).
     */
    public Path mediaDir() {
        return dir.resolve("media");
    }

    /** The VM's user and group when its worker is confined ("UID:GID"); kept until the VM is deleted. */
    public Path owner() {
        return dir.resolve("owner");
    }

    /** Files outside the VM's own folders that were given to its user, with their previous owner, to give back. */
    public Path grants() {
        return dir.resolve("grants");
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
