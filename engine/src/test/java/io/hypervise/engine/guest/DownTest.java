package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.hypervise.engine.Engine;
import io.hypervise.engine.cli.Down;
import io.hypervise.engine.host.ProcessStat;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.worker.WorkerPhase;
import io.hypervise.engine.vm.worker.WorkerRecord;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * {@code bin/hypervise down} ({@link Down}) against a real tiny-linux worker that a closed engine left
 * running, as a stopped server leaves its VMs: it refuses while an engine holds the state directory,
 * then quits the worker over QMP, and never signals a process whose PID merely sits in a record.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DownTest {

    private static final String VM = "kept";
    private static final String DECOY = "decoy";
    /** How long the engine waits after QMP quit before it kills a worker (WorkerSupervisor's grace). */
    private static final Duration QUIT_GRACE = Duration.ofSeconds(5);

    private TestHost host;
    private Engine engine;
    private boolean engineOpen;
    private long workerPid;
    private Process unrelated;

    @BeforeAll
    void leaveARunningGuestBehind() throws Exception {
        host = TestHost.create();
        engine = host.openEngine();
        engineOpen = true;
        engine.vms().define(host.tinyLinux(VM).build());
        engine.vms().define(host.tinyLinux(DECOY).build());
        workerPid = engine.vms().start(VM).workerPid().orElseThrow();
        new SerialConsole(engine.vms().serialLog(VM)).awaitLine(SerialConsole.READY, 1, Duration.ofSeconds(60));
    }

    @AfterAll
    void leaveNothingBehind() throws Exception {
        try {
            if (unrelated != null) {
                unrelated.destroyForcibly().waitFor();
            }
            if (engineOpen) {
                engine.close();
            }
        } finally {
            host.close();
        }
    }

    @Test
    @Order(1)
    void downRefusesWhileAServerHoldsTheStateDirectory() {
        Result down = down();

        assertThat(down.status()).isEqualTo(Down.IN_USE);
        assertThat(down.err()).contains("is in use by another engine", "Stop that server first");
        assertThat(down.out()).isEmpty();
        assertThat(alive(workerPid)).as("the worker of the running server").isTrue();
    }

    @Test
    @Order(2)
    void downQuitsTheWorkerOfAStoppedServerAndSignalsNoProcessThatOnlyHasItsPid() throws Exception {
        engine.close(); // as a server stopping (or killed): the worker goes on
        engineOpen = false;
        assertThat(alive(workerPid)).isTrue();
        unrelated = new ProcessBuilder("sleep", "600").start();
        recordAsWorkerOf(DECOY, unrelated.pid());

        Result down = down();

        assertThat(down.status()).as(down.toString()).isEqualTo(Down.DONE);
        assertThat(alive(workerPid)).as("the worker").isFalse();
        assertThat(unrelated.isAlive()).as("the process whose PID was recorded for " + DECOY).isTrue();

        String kept = down.line(VM);
        assertThat(kept).contains("Running -> Off", "worker " + workerPid + " asked to quit over QMP")
                .doesNotContain("the engine:");
        // QMP quit: QEMU exits on its own, within the grace after which the engine would kill it, and a
        // QEMU ended by SIGTERM or SIGINT (the old shell's way) says so in its log.
        assertThat(goneAfter(kept)).isLessThan(QUIT_GRACE);
        assertThat(Files.readString(vmDir(VM).resolve("worker.log"))).doesNotContain("terminating on signal");
        assertThat(vmDir(VM).resolve("worker.json")).doesNotExist();
        assertThat(Files.readString(vmDir(VM).resolve("state.json"))).contains("\"" + VmState.OFF.name() + "\"");

        assertThat(down.line(DECOY)).contains("no worker", "(PID " + unrelated.pid() + ") was no longer running");
    }

    @Test
    @Order(3)
    void downAgainFindsNothingToTurnOff() {
        Result down = down();

        assertThat(down.status()).isEqualTo(Down.DONE);
        assertThat(down.line(VM)).contains("no worker; Off");
        assertThat(unrelated.isAlive()).isTrue();
    }

    private Result down() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Down.run(List.of(host.stateDir().getParent().toString()),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        Result result = new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        System.out.println("[down] " + result);
        return result;
    }

    /** Writes a worker record naming {@code pid}, with its real start time: only the command line tells it is no worker. */
    private void recordAsWorkerOf(String vm, long pid) throws Exception {
        long ticks = ProcessStat.ofProcess(pid).orElseThrow().startTicks();
        ObjectMapper json = new ObjectMapper().registerModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
        json.writeValue(vmDir(vm).resolve("worker.json").toFile(),
                new WorkerRecord(pid, ticks, WorkerPhase.SUPERVISED, false, Instant.now()));
    }

    private Path vmDir(String vm) {
        return host.stateDir().resolve("vms").resolve(vm);
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static Duration goneAfter(String line) {
        Matcher m = Pattern.compile("gone after (\\d+\\.\\d+) s").matcher(line);
        assertThat(m.find()).as(line).isTrue();
        return Duration.ofMillis(Math.round(Double.parseDouble(m.group(1)) * 1000));
    }

    private record Result(int status, String out, String err) {
        String line(String vm) {
            return out.lines().filter(l -> l.startsWith(vm + " (" + vm + "): ")).findFirst()
                    .orElseThrow(() -> new AssertionError("no line for " + vm + " in: " + out));
        }
    }
}
