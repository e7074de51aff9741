package io.hypervise.server.counters;

import io.agroal.api.AgroalDataSource;
import io.hypervise.engine.counters.HostSample;
import io.hypervise.engine.counters.VmSample;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.jboss.logging.Logger;

/**
 * The latest sample of every VM and of the host as Prometheus gauges (Micrometer, on /q/metrics), with
 * the labels an operator filters by: {@code vm}, {@code host}, {@code owner}. Refreshed once a sampling
 * round; a VM that stopped being sampled (turned off, deleted) drops out at the next refresh.
 */
@ApplicationScoped
public class CounterGauges {

    private static final Logger LOG = Logger.getLogger(CounterGauges.class);

    @Inject
    MeterRegistry registry;

    @Inject
    AgroalDataSource dataSource;

    private final Map<String, VmSample> latest = new ConcurrentHashMap<>();
    private volatile Map<String, String> owners = Map.of();
    private volatile HostSample latestHost;
    private volatile boolean hostRegistered;
    private final List<VmGauge> vmGauges = new ArrayList<>();
    private final List<HostGauge> hostGauges = new ArrayList<>();

    /**
     * One VM gauge: for a sample, the label sets it has a value for (one, or one per vCPU or disk) and how
     * to read each value from whichever sample of that VM is the latest when Prometheus scrapes.
     */
    private record VmGauge(MultiGauge gauge, Function<VmSample, Map<Tags, ToDoubleFunction<VmSample>>> rows) {
    }

    private record HostGauge(MultiGauge gauge, ToDoubleFunction<HostSample> value) {
    }

    @PostConstruct
    void register() {
        vm("hypervise.vm.cpu.cores", "CPU used by the VM's worker process, in cores", s -> one(VmSample::cpuCores));
        vm("hypervise.vm.vcpu.cores", "CPU used by each vCPU's thread, in cores", s -> {
            Map<Tags, ToDoubleFunction<VmSample>> rows = new HashMap<>();
            for (int i = 0; i < s.vcpuCores().size(); i++) {
                int vcpu = i;
                rows.put(Tags.of("vcpu", Integer.toString(i)),
                        x -> vcpu < x.vcpuCores().size() ? x.vcpuCores().get(vcpu) : Double.NaN);
            }
            return rows;
        });
        vm("hypervise.vm.memory.resident.bytes", "the worker's resident set", s -> one(VmSample::residentBytes));
        vm("hypervise.vm.memory.guest.total.bytes", "the guest's memory as it counts it (virtio balloon)",
                s -> s.guestMemory().isEmpty() ? Map.of()
                        : one(x -> x.guestMemory().map(g -> (double) g.totalBytes()).orElse(Double.NaN)));
        vm("hypervise.vm.memory.guest.available.bytes", "memory the guest has available (virtio balloon)",
                s -> s.guestMemory().isEmpty() ? Map.of()
                        : one(x -> x.guestMemory().map(g -> (double) g.availableBytes()).orElse(Double.NaN)));
        disk("hypervise.vm.disk.read.bytes.per.second", "bytes read per second", VmSample.DiskSample::readBytes);
        disk("hypervise.vm.disk.write.bytes.per.second", "bytes written per second", VmSample.DiskSample::writeBytes);
        disk("hypervise.vm.disk.read.ops.per.second", "read operations per second", VmSample.DiskSample::readOps);
        disk("hypervise.vm.disk.write.ops.per.second", "write operations per second", VmSample.DiskSample::writeOps);
        nic("hypervise.vm.nic.receive.bytes.per.second", "bytes the guest received per second (switch port)",
                VmSample.NicSample.Rates::receiveBytes);
        nic("hypervise.vm.nic.transmit.bytes.per.second", "bytes the guest transmitted per second (switch port)",
                VmSample.NicSample.Rates::transmitBytes);
        nic("hypervise.vm.nic.receive.packets.per.second", "packets the guest received per second (switch port)",
                VmSample.NicSample.Rates::receivePackets);
        nic("hypervise.vm.nic.transmit.packets.per.second", "packets the guest transmitted per second (switch port)",
                VmSample.NicSample.Rates::transmitPackets);
        host("hypervise.host.cpu.cores", "cores busy on the host", HostSample::cpuCores);
        host("hypervise.host.cpus", "the host's cores", HostSample::cpus);
        host("hypervise.host.memory.used.bytes", "memory not available to new work", HostSample::memoryUsedBytes);
        host("hypervise.host.memory.total.bytes", "the host's memory", HostSample::memoryTotalBytes);
        host("hypervise.host.load1", "load average over 1 minute", HostSample::load1);
        host("hypervise.host.load5", "load average over 5 minutes", HostSample::load5);
        host("hypervise.host.load15", "load average over 15 minutes", HostSample::load15);
        host("hypervise.host.storage.free.bytes", "usable space under the storage root", HostSample::storageFreeBytes);
        host("hypervise.host.storage.total.bytes", "size of the storage root's file system", HostSample::storageTotalBytes);
    }

    private void vm(String name, String description, Function<VmSample, Map<Tags, ToDoubleFunction<VmSample>>> rows) {
        vmGauges.add(new VmGauge(MultiGauge.builder(name).description(description).register(registry), rows));
    }

    private void disk(String name, String description, ToDoubleFunction<VmSample.DiskSample> value) {
        vm(name, description, s -> {
            Map<Tags, ToDoubleFunction<VmSample>> rows = new HashMap<>();
            s.disks().forEach(d -> rows.put(Tags.of("disk", d.disk()), x -> x.disks().stream()
                    .filter(other -> other.disk().equals(d.disk())).mapToDouble(value).findFirst().orElse(Double.NaN)));
            return rows;
        });
    }

    /** One row per adapter whose traffic is counted; an adapter off any switch has none, rather than a zero. */
    private void nic(String name, String description, ToDoubleFunction<VmSample.NicSample.Rates> value) {
        vm(name, description, s -> {
            Map<Tags, ToDoubleFunction<VmSample>> rows = new HashMap<>();
            s.nics().stream().filter(n -> n.rates().isPresent()).forEach(n -> rows.put(Tags.of("nic", n.nic()),
                    x -> x.nics().stream().filter(other -> other.nic().equals(n.nic()) && other.rates().isPresent())
                            .mapToDouble(other -> value.applyAsDouble(other.rates().get())).findFirst().orElse(Double.NaN)));
            return rows;
        });
    }

    private void host(String name, String description, ToDoubleFunction<HostSample> value) {
        hostGauges.add(new HostGauge(MultiGauge.builder(name).description(description).register(registry), value));
    }

    private static Map<Tags, ToDoubleFunction<VmSample>> one(ToDoubleFunction<VmSample> value) {
        return Map.of(Tags.empty(), value);
    }

    void onVm(VmSample sample) {
        latest.put(sample.vmId(), sample);
    }

    /**
     * The host's sample ends a round: brings the gauges' label sets up to date with the VMs sampled in the
     * last three periods. A gauge reads its value from the latest sample when scraped, so gauges that
     * exist already are left alone: each round costs the registry only the VMs and devices that came or went.
     */
    void onHost(HostSample sample, String hostId, Duration period) {
        Instant stale = sample.at().minus(period.multipliedBy(3));
        latest.values().removeIf(s -> s.at().isBefore(stale));
        Map<String, String> owners = this.owners;
        for (VmGauge g : vmGauges) {
            List<MultiGauge.Row<?>> rows = new ArrayList<>();
            for (VmSample s : latest.values()) {
                Tags vm = Tags.of("vm", s.vmId(), "host", hostId, "owner", owners.getOrDefault(s.vmId(), ""));
                g.rows().apply(s).forEach((tags, value) -> rows.add(MultiGauge.Row.of(vm.and(tags), s.vmId(),
                        id -> Optional.ofNullable(latest.get(id)).map(value::applyAsDouble).orElse(Double.NaN))));
            }
            g.gauge().register(rows, false);
        }
        latestHost = sample;
        if (!hostRegistered) {
            for (HostGauge g : hostGauges) {
                g.gauge().register(List.of(MultiGauge.Row.of(Tags.of("host", hostId), this,
                        self -> self.latestHost == null ? Double.NaN : g.value().applyAsDouble(self.latestHost))), false);
            }
            hostRegistered = true;
        }
    }

    /** Reads who owns each VM, for the gauges' labels; on the writer's thread, never the sampler's. */
    void refreshOwners() {
        Map<String, String> owners = new HashMap<>();
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT id, owner FROM vms")) {
            while (rs.next()) {
                owners.put(rs.getString(1), rs.getString(2));
            }
        } catch (SQLException e) {
            LOG.warnf("VM owners not refreshed for the gauges: %s", e.getMessage());
            return;
        }
        this.owners = owners;
    }
}
