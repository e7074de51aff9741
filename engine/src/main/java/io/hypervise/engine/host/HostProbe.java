package io.hypervise.engine.host;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the host's capabilities from /proc, /dev/kvm, the QEMU binary and the UEFI firmware's folder.
 *
 * <p>KVM is chosen only where /dev/kvm opens <em>and</em> the CPU advertises vmx or svm: some hosts
 * (nested sandboxes) expose a /dev/kvm that cannot run an unmodified guest kernel at useful speed.
 */
public final class HostProbe {

    private static final Pattern QEMU_VERSION = Pattern.compile("QEMU emulator version (\\S+)");

    private final Path procDir;
    private final Path kvmDevice;
    private final Path firmwareDir;

    public HostProbe() {
        this(Path.of("/proc"), Path.of("/dev/kvm"), UefiFirmware.DEBIAN_DIR);
    }

    HostProbe(Path procDir, Path kvmDevice) {
        this(procDir, kvmDevice, UefiFirmware.DEBIAN_DIR);
    }

    HostProbe(Path procDir, Path kvmDevice, Path firmwareDir) {
        this.procDir = procDir;
        this.kvmDevice = kvmDevice;
        this.firmwareDir = firmwareDir;
    }

    public HostCapabilities probe(Path qemuBinary, AcceleratorChoice choice) {
        String cpuinfo = read(procDir.resolve("cpuinfo"));
        boolean hardware = hasHardwareVirtualization(cpuinfo);
        boolean kvmOpens = kvmDeviceOpens();
        Decision decision = decide(choice, kvmOpens, hardware);
        return new HostCapabilities(
                hostname(),
                decision.accelerator(),
                decision.reason(),
                kvmOpens,
                hardware,
                Runtime.getRuntime().availableProcessors(),
                cpuModel(cpuinfo),
                memoryBytes(read(procDir.resolve("meminfo"))),
                qemuBinary,
                qemuVersion(qemuBinary),
                UefiFirmware.find(firmwareDir));
    }

    /** The host's load now, read from /proc and the file system holding {@code storage}. */
    public HostLoad load(Path storage) {
        String[] loadavg = read(procDir.resolve("loadavg")).trim().split("\\s+");
        String meminfo = read(procDir.resolve("meminfo"));
        long free = 0;
        long total = 0;
        try {
            var store = Files.getFileStore(storage);
            free = store.getUsableSpace();
            total = store.getTotalSpace();
        } catch (IOException e) {
            // an unreadable storage root shows as zero space, which the operator will notice
        }
        return new HostLoad(number(loadavg, 0), number(loadavg, 1), number(loadavg, 2),
                memoryBytes(meminfo), meminfoBytes(meminfo, "MemAvailable:"), free, total);
    }

    private static double number(String[] fields, int i) {
        try {
            return fields.length > i ? Double.parseDouble(fields[i]) : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    static long meminfoBytes(String meminfo, String key) {
        return meminfo.lines()
                .filter(line -> line.startsWith(key))
                .map(line -> line.replaceAll("[^0-9]", ""))
                .mapToLong(kib -> Long.parseLong(kib) * 1024)
                .findFirst()
                .orElse(0);
    }

    record Decision(Accelerator accelerator, String reason) {
    }

    static Decision decide(AcceleratorChoice choice, boolean kvmOpens, boolean hardware) {
        return switch (choice) {
            case KVM -> new Decision(Accelerator.KVM, "forced by configuration");
            case TCG -> new Decision(Accelerator.TCG, "forced by configuration");
            case AUTO -> {
                if (!kvmOpens) {
                    yield new Decision(Accelerator.TCG, "/dev/kvm is missing or cannot be opened");
                }
                if (!hardware) {
                    yield new Decision(Accelerator.TCG,
                            "/dev/kvm exists but the CPU advertises neither vmx nor svm");
                }
                yield new Decision(Accelerator.KVM, "/dev/kvm opens and the CPU has hardware virtualization");
            }
        };
    }

    static boolean hasHardwareVirtualization(String cpuinfo) {
        return cpuinfo.lines()
                .filter(line -> line.startsWith("flags"))
                .flatMap(line -> List.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+")).stream())
                .anyMatch(flag -> flag.equals("vmx") || flag.equals("svm"));
    }

    static String cpuModel(String cpuinfo) {
        return cpuinfo.lines()
                .filter(line -> line.startsWith("model name"))
                .map(line -> line.substring(line.indexOf(':') + 1).trim())
                .findFirst()
                .orElse("unknown");
    }

    static long memoryBytes(String meminfo) {
        return meminfoBytes(meminfo, "MemTotal:");
    }

    static String parseQemuVersion(String versionOutput) {
        Matcher m = QEMU_VERSION.matcher(versionOutput);
        return m.find() ? m.group(1) : "unknown";
    }

    private boolean kvmDeviceOpens() {
        try (RandomAccessFile ignored = new RandomAccessFile(kvmDevice.toFile(), "rw")) {
            return true;
        } catch (IOException | SecurityException e) {
            return false;
        }
    }

    private static String qemuVersion(Path qemuBinary) {
        try {
            Process p = new ProcessBuilder(qemuBinary.toString(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            return parseQemuVersion(out);
        } catch (IOException e) {
            return "not found (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    private String hostname() {
        String fromProc = read(procDir.resolve("sys/kernel/hostname")).trim();
        return fromProc.isEmpty() ? "localhost" : fromProc;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
