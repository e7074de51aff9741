package io.hypervise.engine.cli;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineConfig;
import io.hypervise.engine.vm.VmStatus;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * {@code bin/hypervise down}: turns off every VM worker of a data folder while no server runs, through
 * the engine itself. Opening the engine re-attaches only to workers whose recorded PID is still that
 * worker (its start time and command line), and turning a VM off asks its worker to quit over QMP and
 * kills it only if it is still there after a grace period. A server that holds the state directory is
 * left alone: {@code down} refuses and says so, since two engines cannot share its workers.
 *
 * <p>Usage: {@code Down <data-dir>}, with the state and storage in {@code <data-dir>/state} and
 * {@code <data-dir>/storage} as the server has them by default. Prints one line per VM on stdout.
 */
public final class Down {

    /** Every VM was turned off, or had no worker. */
    public static final int DONE = 0;
    /** At least one VM could not be turned off; the others were. */
    public static final int SOME_FAILED = 1;
    public static final int USAGE = 2;
    /** A server (or another engine) holds the state directory; nothing was done. */
    public static final int IN_USE = 3;

    private Down() {
    }

    public static void main(String[] args) {
        oneLineLogs();
        System.exit(run(List.of(args), System.out, System.err));
    }

    public static int run(List<String> args, PrintStream out, PrintStream err) {
        if (args.size() != 1) {
            err.println("usage: Down <data-dir>   (turns off every VM worker of <data-dir>/state)");
            return USAGE;
        }
        Path dataDir = Path.of(args.getFirst()).toAbsolutePath().normalize();
        Path stateDir = dataDir.resolve("state");
        if (!Files.isDirectory(stateDir.resolve("vms"))) {
            out.println("no VMs: " + stateDir + " holds none");
            return DONE;
        }
        EngineLog log = EngineLog.listen();
        try (Engine engine = Engine.open(EngineConfig.defaults(stateDir, dataDir.resolve("storage")))) {
            return turnOffAll(engine, log, out);
        } catch (IllegalStateException e) {
            err.println("hypervise down: " + e.getMessage() + ". Stop that server first (Ctrl-C where 'bin/hypervise up'"
                    + " runs; a server started otherwise, the way it was started): its VMs keep running, and"
                    + " 'bin/hypervise down' then turns them off.");
            return IN_USE;
        } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
            err.println("hypervise down: cannot open the engine over " + stateDir + ": " + e.getMessage());
            return SOME_FAILED;
        } finally {
            log.close();
        }
    }

    private static int turnOffAll(Engine engine, EngineLog log, PrintStream out) {
        int result = DONE;
        for (VmStatus vm : engine.vms().list()) {
            String who = vm.name() + " (" + vm.id() + "): ";
            if (!vm.state().hasWorker()) {
                out.println(who + "no worker; " + vm.state().displayName() + ", " + vm.reason());
                continue;
            }
            long pid = vm.workerPid().orElse(-1);
            String asked = vm.unresponsive().isPresent()
                    ? "worker " + pid + " does not answer QMP"
                    : "worker " + pid + " asked to quit over QMP";
            int mark = log.mark();
            long begin = System.nanoTime();
            try {
                VmStatus after = engine.vms().turnOff(vm.id());
                Duration took = Duration.ofNanos(System.nanoTime() - begin);
                out.println(who + vm.state().displayName() + " -> " + after.state().displayName() + ": " + asked
                        + "; gone after " + seconds(took) + log.aside(mark, vm));
            } catch (RuntimeException e) {
                out.println(who + "NOT turned off: " + e.getMessage() + log.aside(mark, vm));
                result = SOME_FAILED;
            }
        }
        return result;
    }

    private static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.2f s", d.toMillis() / 1000.0);
    }

    /** The engine's logs as one line each, warnings only: the per-VM lines on stdout say what was done. */
    private static void oneLineLogs() {
        LogManager.getLogManager().reset();
        System.setProperty("java.util.logging.SimpleFormatter.format", "hypervise down: %4$s: %5$s%6$s%n");
        ConsoleHandler console = new ConsoleHandler();
        console.setFormatter(new SimpleFormatter());
        console.setLevel(Level.WARNING);
        Logger.getLogger("").addHandler(console);
    }

    /**
     * What the engine logs about a VM while it is turned off, beyond the state change itself: e.g. that
     * its worker did not accept quit and was killed. The engine reports those only in its log.
     */
    private static final class EngineLog extends Handler {

        private static final String ENGINE = "io.hypervise.engine";

        private final List<String> messages = new ArrayList<>();
        private final Logger logger = Logger.getLogger(ENGINE);
        private final Level previous = logger.getLevel();

        static EngineLog listen() {
            EngineLog log = new EngineLog();
            log.logger.setLevel(Level.INFO);
            log.logger.addHandler(log);
            return log;
        }

        synchronized int mark() {
            return messages.size();
        }

        /** The VM's messages since {@code mark} other than its state changes, as a suffix to its line. */
        synchronized String aside(int mark, VmStatus vm) {
            String prefix = "VM '" + vm.name() + "' (" + vm.id() + "): ";
            List<String> said = messages.subList(mark, messages.size()).stream()
                    .filter(m -> m.startsWith(prefix))
                    .map(m -> m.substring(prefix.length()))
                    .filter(m -> !m.matches("\\w+ -> \\w+: .*"))
                    .toList();
            return said.isEmpty() ? "" : " (the engine: " + String.join("; ", said) + ")";
        }

        @Override
        public synchronized void publish(LogRecord record) {
            messages.add(record.getMessage());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
            logger.setLevel(previous);
        }
    }
}
