package io.hypervise.server.counters;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

/**
 * Workers that stop answering, for Prometheus (/q/metrics): how many VMs are unresponsive now
 * ({@code hypervise_vms_unresponsive}), and how many times a worker stopped answering since the server
 * started ({@code hypervise_vm_unresponsive_episodes_total}). The engine logs each one.
 */
@ApplicationScoped
public class UnresponsiveWorkers {

    @Inject
    MeterRegistry registry;

    @Inject
    Engine engine;

    void register(@Observes StartupEvent start) {
        Gauge.builder("hypervise.vms.unresponsive", engine,
                        e -> e.vms().list().stream().filter(vm -> vm.unresponsive().isPresent()).count())
                .description("VMs whose worker does not answer now")
                .register(registry);
        Counter episodes = Counter.builder("hypervise.vm.unresponsive.episodes")
                .description("times a VM's worker stopped answering")
                .register(registry);
        engine.vms().addListener(event -> {
            if (event instanceof VmEvent.ResponsivenessChanged changed && changed.unresponsive().isPresent()) {
                episodes.increment();
            }
        });
    }
}
