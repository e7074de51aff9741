package io.hypervise.engine.vm.worker;

import java.util.Map;
import java.util.OptionalInt;

/** How a worker process ended, in words. The status is unknown for a worker this engine re-attached to. */
public record WorkerExit(OptionalInt status, String description) {

    private static final Map<Integer, String> SIGNALS = Map.of(
            1, "SIGHUP", 2, "SIGINT", 6, "SIGABRT", 9, "SIGKILL", 11, "SIGSEGV", 15, "SIGTERM");

    /** From a child's exit value, where Java reports death by signal N as 128 + N. */
    public static WorkerExit ofExitValue(int value) {
        if (value > 128 && value < 160) {
            int signal = value - 128;
            return new WorkerExit(OptionalInt.of(value),
                    "killed by signal " + signal + " (" + SIGNALS.getOrDefault(signal, "SIG" + signal) + ")");
        }
        return new WorkerExit(OptionalInt.of(value), "exited with status " + value);
    }

    public static WorkerExit unknown() {
        return new WorkerExit(OptionalInt.empty(), "exited (its exit status is unknown: an earlier engine process started it)");
    }
}
