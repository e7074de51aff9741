package io.hypervise.server.ui;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmEvent;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.time.Duration;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.jboss.resteasy.reactive.RestStreamElementType;

/**
 * Tells open pages that VMs changed state, as server-sent events, so lists and panes refresh without
 * a reload. An event says only that something changed, never which VM: a page then asks for what its
 * viewer may see, so nobody learns of VMs that are not theirs.
 */
@Path("/ui/events")
@ApplicationScoped
public class UiEvents {

    private static final Duration KEEP_ALIVE = Duration.ofSeconds(25);

    private final BroadcastProcessor<String> changes = BroadcastProcessor.create();

    @Inject
    Engine engine;

    void listen(@Observes StartupEvent start) {
        engine.vms().addListener(event -> {
            if (event instanceof VmEvent.StateChanged || event instanceof VmEvent.ResponsivenessChanged) {
                changes.onNext("vms-changed");
            }
        });
    }

    @GET
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.TEXT_PLAIN)
    @Operation(hidden = true)
    @Requires(Permission.VM_READ)
    @Blocking // the permission filter resolves who is asking, which may wait for Keycloak
    public Multi<String> stream() {
        // A comment-free keep-alive: proxies close streams that stay silent for long.
        Multi<String> keepAlive = Multi.createFrom().ticks().every(KEEP_ALIVE).map(tick -> "keep-alive");
        return Multi.createBy().merging().streams(changes, keepAlive);
    }
}
