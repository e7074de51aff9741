package io.hypervise.bench;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineConfig;
import io.hypervise.engine.network.HostAddress;
import io.hypervise.engine.network.SwitchKind;
import io.hypervise.engine.network.VirtualSwitch;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.template.TinyLinuxTemplate;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How closely a receive limit holds a guest to its rate: the host floods a tiny-linux guest on an internal switch
 * with UDP at half again each limit, and the guest's own counter ("hv-rx eth0 BYTES UPTIME") says what reached it.
 * The reference is the limit itself, and the same flood with no limit: what the guest takes in unlimited, so that
 * a ratio under 1 is the shaper's, not the guest's.
 */
public final class NetworkBandwidthBench {

    private static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "hypervise");
    private static final Pattern HV_RX = Pattern.compile("hv-rx eth0 (\\d+) (\\d+(?:\\.\\d+)?)");
    private static final int PAYLOAD = 1400;
    /** UDP, IPv4 and Ethernet headers: what the guest counts of each datagram beyond its payload. */
    private static final int HEADERS = 42;

    public static void main(String[] args) throws Exception {
        List<Long> limits = new ArrayList<>();
        for (String mbit : (args.length > 0 ? args[0] : "1,5,20").split(",")) {
            limits.add(Math.round(Double.parseDouble(mbit) * 1e6));
        }
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        TinyLinuxTemplate.Built template = TinyLinuxTemplate.ensure(TinyLinuxTemplate.Variant.AMD64, CACHE.resolve("library"),
                CACHE.resolve("downloads"), line -> System.out.println("[tiny-linux] " + line));
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "hvn");
        String switchId = "bench" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000));
        String subnet = "10.231." + ThreadLocalRandom.current().nextInt(256) + ".";
        try (Engine engine = Engine.open(EngineConfig.defaults(dir.resolve("state"), Files.createDirectories(dir.resolve("storage"))))) {
            Path storage = engine.storage().path();
            Path kernel = Files.copy(template.kernel(), storage.resolve("vmlinuz"), StandardCopyOption.REPLACE_EXISTING);
            Path initrd = Files.copy(template.initramfs(), storage.resolve("initrd.img"), StandardCopyOption.REPLACE_EXISTING);
            System.out.printf("host: %s, %d CPUs, QEMU %s, accelerator %s; transmit limits: %s%n", engine.host().cpuModel(),
                    engine.host().cpus(), engine.host().qemuVersion(), engine.host().accelerator(),
                    engine.vms().resourceSupport().networkTransmitUnavailable().map(why -> "unavailable (" + why + ")").orElse("available"));
            engine.switches().ensure(new VirtualSwitch(switchId, SwitchKind.INTERNAL, java.util.Optional.of(HostAddress.parse(subnet + "1/24"))));
            try {
                run(engine, new BootSource.Kernel(kernel, initrd, template.commandLine() + " hv.ip=eth0," + subnet + "2/24"),
                        switchId, subnet + "2", limits, seconds);
            } finally {
                engine.switches().unplug("netbw", 1);
                engine.switches().delete(switchId);
            }
        } finally {
            FileTrees.delete(dir);
        }
    }

    private static void run(Engine engine, BootSource boot, String switchId, String guest, List<Long> limits, int seconds)
            throws Exception {
        VmDefinition def = new VmDefinition("netbw", "netbw", 1, 160, DeviceProfile.ENLIGHTENED, List.of(),
                List.of(new Nic("52:54:00:00:00:20", switchId)), boot, Display.NONE);
        engine.vms().define(def);
        Path serial = engine.vms().serialLog(def.id());
        engine.vms().start(def.id());
        try {
            await(serial, "HYPERVISE-READY");
            System.out.printf("%n%-12s %-12s %-14s %s%n", "limit", "sent", "guest got", "got / limit");
            long top = limits.stream().mapToLong(Long::longValue).max().orElse(1_000_000);
            for (long limit : limits) {
                engine.vms().changeResources(def.id(), new Resources(null, null, null, null, null, null, limit, null));
                double got = flood(serial, guest, limit * 3 / 2, seconds);
                System.out.printf("%-12s %-12s %-14s %.3f%n", mbit(limit), mbit(limit * 3 / 2), mbit(got), got / limit);
            }
            engine.vms().changeResources(def.id(), Resources.NONE);
            double free = flood(serial, guest, top * 3 / 2, seconds);
            System.out.printf("%-12s %-12s %-14s (what the guest takes in unlimited)%n", "none", mbit(top * 3 / 2), mbit(free));
        } finally {
            engine.vms().turnOff(def.id());
            engine.vms().delete(def.id());
        }
    }

    /** Sends UDP to the guest at {@code bitsPerSecond} for {@code seconds}; the rate the guest's counter saw, first two and last lines left out. */
    private static double flood(Path serial, String guest, long bitsPerSecond, int seconds) throws Exception {
        int from = lines(serial).size();
        long sent = 0;
        try (DatagramSocket socket = new DatagramSocket()) {
            DatagramPacket packet = new DatagramPacket(new byte[PAYLOAD], PAYLOAD, InetAddress.getByName(guest), 9);
            long start = System.nanoTime();
            long end = start + TimeUnit.SECONDS.toNanos(seconds);
            for (long now = start; now < end; now = System.nanoTime()) {
                if (sent * 8 * 1e9 / bitsPerSecond > now - start) {
                    TimeUnit.MICROSECONDS.sleep(200);
                    continue;
                }
                socket.send(packet);
                sent += PAYLOAD + HEADERS;
            }
        }
        TimeUnit.SECONDS.sleep(2);
        List<double[]> samples = new ArrayList<>();
        List<String> lines = lines(serial);
        for (String line : lines.subList(Math.min(from, lines.size()), lines.size())) {
            Matcher m = HV_RX.matcher(line);
            if (m.matches()) {
                samples.add(new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))});
            }
        }
        if (samples.size() < 5) {
            throw new IllegalStateException("the guest printed " + samples.size() + " hv-rx lines while flooded; too few to measure");
        }
        double[] first = samples.get(2);
        double[] last = samples.get(samples.size() - 2);
        return (last[0] - first[0]) * 8 / (last[1] - first[1]);
    }

    private static List<String> lines(Path serial) throws Exception {
        return Files.readString(serial, StandardCharsets.ISO_8859_1).replace("\r", "").lines().toList();
    }

    private static void await(Path serial, String marker) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (Files.exists(serial) && lines(serial).contains(marker)) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
        throw new IllegalStateException("no " + marker + " in " + serial + " within 120 s");
    }

    private static String mbit(double bitsPerSecond) {
        return String.format("%.2f Mbit/s", bitsPerSecond / 1e6);
    }
}
