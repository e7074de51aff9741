package io.hypervise.server.policy;

import io.hypervise.server.access.Caller;
import io.hypervise.server.config.ServerConfig;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * Starter policies for the demo realm (hypervise.demo-policies.enabled, which bin/hypervise up sets):
 * engineering may create a few VMs and do everything with them; qa gets smaller VMs on a 7-day lease
 * and may not delete or reconfigure them. Created only when there is no policy at all, so an
 * administrator's own policies are never touched.
 */
@ApplicationScoped
public class DemoPolicies {

    private static final Logger LOG = Logger.getLogger(DemoPolicies.class);

    @Inject
    ServerConfig config;

    @Inject
    Policies policies;

    void onStart(@Observes StartupEvent event) {
        if (!config.demoPolicies() || QuarkusTransaction.requiringNew().call(() -> PolicyEntity.count()) > 0) {
            return;
        }
        policies.create(new PolicyRequest("engineering", "Engineering",
                "Engineers build and break things: up to 5 VMs, every action, 20 GiB of their own in the library.", 10, false,
                List.of("engineering"), List.of(), List.of("default"), List.of("tiny-linux"),
                List.of("start", "shut-down", "turn-off", "pause", "save", "console", "console-view-only", "checkpoint",
                        "reconfigure", "delete"),
                5, 8, 4096L, 20480L, 2, 2048L, 10240L, null, null, List.of(), 20480L), Caller.host());
        policies.create(new PolicyRequest("qa", "QA",
                "Testers get short-lived VMs: up to 2, for 7 days, which they run but do not change or delete.", 20, false,
                List.of("qa"), List.of(), List.of("default"), List.of("tiny-linux"),
                List.of("start", "shut-down", "turn-off", "console", "console-view-only"),
                2, 2, 1024L, 4096L, 1, 512L, 2048L, 7, null), Caller.host());
        LOG.info("created the demo self-service policies 'engineering' and 'qa' (GET /api/v1/policies)");
    }
}
