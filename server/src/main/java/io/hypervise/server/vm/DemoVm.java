package io.hypervise.server.vm;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.access.Caller;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.template.TemplateEntity;
import io.hypervise.server.template.Templates;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Boots a VM from the tiny-linux template when the server starts (if enabled), building the template
 * on first use. It runs in the background: the server answers while the template is being built.
 */
@ApplicationScoped
public class DemoVm {

    private static final Logger LOG = Logger.getLogger(DemoVm.class);

    @Inject
    Engine engine;

    @Inject
    ServerConfig config;

    @Inject
    VmService vms;

    @Inject
    Templates templates;

    void onStart(@Observes StartupEvent event) {
        if (config.demoVm().enabled()) {
            Thread.ofVirtual().name("demo-vm").start(this::bootDemo);
        }
    }

    private void bootDemo() {
        String id = config.demoVm().id();
        try {
            TemplateEntity template = templates.find(Templates.TINY_LINUX).orElseThrow();
            BootSource boot = templates.bootSource(template);
            VmStatus status = existing(id);
            if (status == null) {
                // With a blank 1 GiB disk of its own, so the guest has a disk to show (hv-disk vda).
                vms.create(Caller.host(), new VmRequests.NewVm(new VmDefinition(id, "Demo (tiny-linux)", 1, 256,
                        DeviceProfile.ENLIGHTENED, List.of(new Disk(null, DiskFormat.QCOW2, false)),
                        List.of(new Nic("52:54:00:00:00:01")), boot, Display.VNC), Map.of(0, 1L << 30), template.id));
                status = engine.vms().status(id);
            }
            if (status.state() == VmState.OFF || status.state() == VmState.SAVED) {
                engine.vms().start(id);
            }
            LOG.infof("demo VM '%s' is %s; its serial console: GET /api/v1/vms/%s/serial", id,
                    engine.vms().status(id).state().displayName(), id);
        } catch (Exception e) {
            LOG.errorf("the demo VM could not be started: %s", e.getMessage());
        }
    }

    private VmStatus existing(String id) {
        try {
            return engine.vms().status(id);
        } catch (VmNotFoundException e) {
            return null;
        }
    }
}
