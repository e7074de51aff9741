package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.counters.HostSample;
import io.hypervise.engine.counters.Sample;
import io.hypervise.engine.counters.VmSample;
import io.hypervise.engine.network.HostAddress;
import io.hypervise.engine.network.SwitchKind;
import io.hypervise.engine.network.VirtualSwitch;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Nic;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The counters against one real tiny-linux guest that, asked on its kernel command line, keeps its
 * vCPU busy for a while, then idles, then writes to its disk, saying on its serial console when each
 * phase starts and ends. The tests follow those phases in order and judge the samples taken in each.
 * Its second network adapter is on an internal virtual switch, over which it finally sends a known
 * amount to a socket this test holds on the host's side of the switch.
 *
 * <p>Under TCG a busy vCPU's thread gets a whole host core only if one is free; these machines have two,
 * shared with other builds. So the bounds leave room for contention and still fail for a wrong counter:
 * a counter that read the whole process, or the wrong thread, or ticks as seconds, would be far outside.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GuestCountersTest {

    private static final String VM = "busy";
    private static final int BURN_SECONDS = 12;
    private static final int WRITE_MIB = 8;
    private static final int SEND_KIB = 2048;
    private static final Duration PHASE = Duration.ofSeconds(90);
    private static final String SWITCH = "tc" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);

    private TestHost host;
    private Engine engine;
    private SerialConsole serial;
    private final List<Sample> samples = new CopyOnWriteArrayList<>();
    private TcpSink receiver;

    @BeforeAll
    void bootAGuestThatBurnsThenIdlesThenWritesThenSends() throws Exception {
        host = TestHost.create();
        engine = host.openEngine();
        assertThat(engine.switches().unavailable()).as("why virtual switches cannot work here").isEmpty();
        int subnet = ThreadLocalRandom.current().nextInt(256);
        engine.switches().ensure(new VirtualSwitch(SWITCH, SwitchKind.INTERNAL,
                Optional.of(HostAddress.parse("10.204." + subnet + ".1/24"))));
        receiver = new TcpSink("10.204." + subnet + ".1");
        engine.vms().define(host.tinyLinux(VM, "hv.burn=" + BURN_SECONDS + " hv.write=" + WRITE_MIB
                        + " hv.ip=eth1,10.204." + subnet + ".2/24 hv.send=10.204." + subnet + ".1," + receiver.port()
                        + "," + SEND_KIB)
                .withDisks(new Disk(host.newDisk("busy.qcow2", "qcow2", "64M"), DiskFormat.QCOW2, false))
                .withNics(new Nic("52:54:00:aa:bb:02"), new Nic("52:54:00:aa:bb:03", SWITCH))
                .build());
        serial = new SerialConsole(engine.vms().serialLog(VM));
        engine.counters().addListener(samples::add);
        engine.counters().start(Duration.ofSeconds(1));
        engine.vms().start(VM);
    }

    @AfterAll
    void leaveNothingBehind() throws Exception {
        try {
            if (receiver != null) {
                receiver.close();
            }
            if (engine != null) {
                engine.close();
            }
        } finally {
            host.close();
            TestHost.removeSwitch(SWITCH, VM);
        }
    }

    @Test
    @Order(1)
    void aGuestBurningCpuShowsNearlyAWholeVcpu() {
        serial.awaitLine("hv-burn-start", 1, PHASE);
        int from = samples.size() + 1; // the sample in progress may cover time before the burn
        serial.awaitLine("hv-burn-end", 1, PHASE);
        List<VmSample> burning = vmSamples(from, samples.size() - 1); // and the last may cover time after it

        assertThat(burning).as("samples while burning").hasSizeGreaterThanOrEqualTo(BURN_SECONDS / 2);
        List<Double> vcpu = burning.stream().map(s -> s.vcpuCores().getFirst()).sorted().toList();
        System.out.println("[counters] vCPU 0 while burning, cores: " + vcpu);
        assertThat(median(vcpu)).as("vCPU 0 while burning, in cores: %s", vcpu).isGreaterThan(0.5).isLessThan(1.1);
        // The worker's total includes its vCPU thread; it cannot be less.
        assertThat(burning).allSatisfy(s -> assertThat(s.cpuCores()).isGreaterThanOrEqualTo(s.vcpuCores().getFirst() - 0.02));
    }

    @Test
    @Order(2)
    void anIdleGuestShowsNearlyNothing() {
        SerialConsole.sleep(2000); // past the end of the burn
        int from = samples.size() + 1;
        serial.awaitLine("hv-write-start", 1, PHASE);
        List<VmSample> idle = vmSamples(from, samples.size() - 1);

        assertThat(idle).as("samples while idle").hasSizeGreaterThanOrEqualTo(4);
        List<Double> vcpu = idle.stream().map(s -> s.vcpuCores().getFirst()).sorted().toList();
        System.out.println("[counters] vCPU 0 while idle, cores: " + vcpu);
        assertThat(median(vcpu)).as("vCPU 0 while idle, in cores: %s", vcpu).isLessThan(0.2);
        assertThat(idle).allSatisfy(s -> assertThat(s.disks().getFirst().writeBytes()).as("bytes written while idle").isLessThan(64 * 1024));
    }

    @Test
    @Order(3)
    void aGuestWritingItsDiskShowsItInThatDisksCounters() {
        int from = samples.size();
        serial.awaitLine("hv-wrote vda " + WRITE_MIB * 1048576L, 1, PHASE);
        awaitSamples(samples.size() + 2);
        List<VmSample> writing = vmSamples(from, samples.size());

        double bytes = writing.stream().mapToDouble(s -> s.disks().getFirst().writeBytes() * seconds(s)).sum();
        double ops = writing.stream().mapToDouble(s -> s.disks().getFirst().writeOps() * seconds(s)).sum();
        System.out.printf("[counters] disk0 while writing %d MiB: %.0f bytes, %.0f operations%n", WRITE_MIB, bytes, ops);
        assertThat(writing.getFirst().disks().getFirst().disk()).isEqualTo("disk0");
        assertThat(bytes).as("bytes written to disk0").isBetween(WRITE_MIB * 1048576.0 * 0.999, 2 * WRITE_MIB * 1048576.0); // rate × interval: rounding
        assertThat(ops).as("write operations on disk0").isGreaterThanOrEqualTo(1);
    }

    @Test
    @Order(4)
    void aGuestSendingOverASwitchShowsItInThatAdaptersCounters() throws Exception {
        serial.awaitLine("hv-sent " + SEND_KIB * 1024L, 1, PHASE);
        assertThat(receiver.received().get(30, TimeUnit.SECONDS)).as("bytes the host's socket received").isEqualTo(SEND_KIB * 1024L);
        awaitSamples(samples.size() + 2);
        // Every sample since the start: the send may begin while the previous test still waits, and
        // before it the adapter carries only the few frames of an address announcement.
        List<VmSample> sending = vmSamples(0, samples.size());

        double sent = sending.stream().mapToDouble(s -> s.nics().get(1).rates().orElseThrow().transmitBytes() * seconds(s)).sum();
        double acks = sending.stream().mapToDouble(s -> s.nics().get(1).rates().orElseThrow().receiveBytes() * seconds(s)).sum();
        double packets = sending.stream().mapToDouble(s -> s.nics().get(1).rates().orElseThrow().transmitPackets() * seconds(s)).sum();
        System.out.printf("[counters] net1 while sending %d KiB: %.0f bytes in %.0f packets out, %.0f bytes in%n",
                SEND_KIB, sent, packets, acks);
        // The payload plus Ethernet, IP and TCP headers: about 5 % more in full-sized segments.
        assertThat(sent).as("bytes the guest transmitted on net1").isBetween(SEND_KIB * 1024 * 0.999, SEND_KIB * 1024 * 1.10);
        // At least one frame per 64 KiB, however much the guest's segmentation offload packs into one.
        assertThat(packets).as("packets the guest transmitted").isGreaterThan(SEND_KIB * 1024 / 65536.0);
        assertThat(acks).as("the host's acknowledgements, received by the guest").isPositive().isLessThan(SEND_KIB * 1024 * 0.1);
    }

    @Test
    @Order(5)
    void memoryIsTheWorkersResidentSetAndTheGuestsOwnView() {
        VmSample last = vmSamples(0, samples.size()).getLast();
        assertThat(last.residentBytes()).as("worker RSS").isBetween(64L << 20, 1L << 30);
        assertThat(last.guestMemory()).as("the balloon's statistics from the guest").isPresent();
        assertThat(last.guestMemory().get().totalBytes()).as("guest MemTotal").isBetween(180L << 20, 256L << 20);
        assertThat(last.guestMemory().get().availableBytes()).isBetween(1L, last.guestMemory().get().totalBytes());
    }

    @Test
    @Order(6)
    void anAdapterOffAnySwitchSaysWhyItHasNoCountersInsteadOfShowingZeros() {
        VmSample last = vmSamples(0, samples.size()).getLast();
        assertThat(last.nics()).hasSize(2).first().satisfies(n -> {
            assertThat(n.mac()).isEqualTo("52:54:00:aa:bb:02");
            assertThat(n.rates()).isEmpty();
            assertThat(n.unavailable()).hasValueSatisfying(r -> assertThat(r).contains("not connected to a virtual switch"));
        });
        assertThat(last.series()).doesNotContainKey("nic.net0.receive-bytes").containsKey("nic.net1.transmit-bytes");
        assertThat(engine.switches().ports(SWITCH)).singleElement()
                .satisfies(p -> assertThat(p.vmId()).contains(VM));
    }

    @Test
    @Order(7)
    void theHostIsSampledToo() {
        HostSample hostSample = samples.stream().filter(HostSample.class::isInstance).map(HostSample.class::cast)
                .reduce((a, b) -> b).orElseThrow();
        assertThat(hostSample.cpuCores()).isBetween(0.0, (double) hostSample.cpus());
        assertThat(hostSample.memoryUsedBytes()).isBetween(1L, hostSample.memoryTotalBytes());
        assertThat(hostSample.storageFreeBytes()).isPositive();
    }

    @Test
    @Order(8)
    void aSilentWorkerDelaysOnlyItsOwnSampleAndNothingElse() throws Exception {
        long pid = engine.vms().status(VM).workerPid().orElseThrow();
        long failedBefore = engine.counters().failed();
        Process stop = new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start();
        assertThat(stop.waitFor()).isZero();
        try {
            long t0 = System.nanoTime();
            for (int i = 0; i < 20; i++) {
                engine.vms().list();
                engine.vms().status(VM);
            }
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("listing while the worker is silent").isLessThan(Duration.ofMillis(500));
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (engine.counters().failed() == failedBefore && System.nanoTime() < deadline) {
                SerialConsole.sleep(100);
            }
            assertThat(engine.counters().failed()).as("samples given up on").isGreaterThan(failedBefore);
        } finally {
            new ProcessBuilder("kill", "-CONT", Long.toString(pid)).start().waitFor();
        }
        int before = samples.size();
        awaitSamples(before + 4);
        assertThat(vmSamples(before, samples.size())).as("samples after the worker answers again").isNotEmpty();
    }

    @Test
    @Order(9)
    void lifecycleActionsGoOnWhileSamplingAndAPausedGuestUsesNoCpu() {
        assertThat(engine.vms().pause(VM).state()).isEqualTo(VmState.PAUSED);
        int from = samples.size() + 1;
        awaitSamples(from + 6);
        List<VmSample> paused = vmSamples(from, samples.size());
        assertThat(paused).as("a paused VM is still sampled").isNotEmpty()
                .allSatisfy(s -> assertThat(s.vcpuCores().getFirst()).as("vCPU 0 while paused").isLessThan(0.05));
        assertThat(engine.vms().resume(VM).state()).isEqualTo(VmState.RUNNING);
        long counter = serial.lastCounter().orElseThrow();
        assertThat(serial.awaitCounterAbove(counter, Duration.ofSeconds(20))).isGreaterThan(counter);
    }

    private List<VmSample> vmSamples(int from, int to) {
        return samples.subList(Math.max(0, from), Math.max(Math.max(0, from), to)).stream()
                .filter(VmSample.class::isInstance).map(VmSample.class::cast).toList();
    }

    private void awaitSamples(int count) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (samples.size() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("fewer than " + count + " samples after 30 s");
            }
            SerialConsole.sleep(100);
        }
    }

    private static double seconds(Sample s) {
        return s.interval().toNanos() / 1e9;
    }

    private static double median(List<Double> sorted) {
        return sorted.get(sorted.size() / 2);
    }
}
