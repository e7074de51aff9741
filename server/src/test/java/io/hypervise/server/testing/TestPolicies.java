package io.hypervise.server.testing;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.server.inventory.BootColumns;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.template.TemplateEntity;
import io.quarkus.narayana.jta.QuarkusTransaction;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;

/**
 * Policies and templates tests need before self-service users can do anything: without a policy
 * they may create nothing and act on nothing (see PolicyApiTest for the policies themselves).
 */
public final class TestPolicies {

    /** A template whose (stand-in) kernel is there at once: VMs from it are defined, never booted. */
    public static final String STUB = "stub";

    private TestPolicies() {
    }

    public static void ensureStubTemplate(Engine engine) {
        Path kernel = engine.storage().path().resolve("stub-kernel");
        try {
            if (!Files.exists(kernel)) {
                Files.writeString(kernel, "never booted");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        QuarkusTransaction.requiringNew().run(() -> {
            if (TemplateEntity.findById(STUB) == null) {
                TemplateEntity t = new TemplateEntity();
                t.id = STUB;
                t.name = "Stub";
                t.description = "";
                t.vcpus = 1;
                t.memoryMib = 64;
                t.profile = DeviceProfile.ENLIGHTENED;
                t.display = Display.NONE;
                t.boot = BootColumns.of(new BootSource.Kernel(kernel, null, ""));
                t.createdAt = Instant.now();
                t.updatedAt = t.createdAt;
                t.persist();
            }
        });
    }

    /** A policy that lets the users do everything, from any template, without quotas. */
    public static void allowEverything(String id, String... users) {
        QuarkusTransaction.requiringNew().run(() -> {
            if (PolicyEntity.findById(id) != null) {
                return;
            }
            PolicyEntity p = new PolicyEntity();
            p.id = id;
            p.name = "Everything for tests";
            p.description = "";
            p.precedence = 500;
            p.assignedUsers = users;
            p.hostGroups = new String[] {"default"};
            p.templates = new String[] {STUB, "tiny-linux"};
            p.actions = Arrays.stream(SelfServiceAction.values()).map(SelfServiceAction::id).toArray(String[]::new);
            p.createdAt = Instant.now();
            p.updatedAt = p.createdAt;
            p.persist();
        });
    }
}
