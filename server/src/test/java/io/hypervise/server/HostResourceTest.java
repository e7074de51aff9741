package io.hypervise.server;

import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class HostResourceTest {

    @Test
    void theHostDescribesItsAcceleratorCpusMemoryAndQemu() throws Exception {
        boolean hardware = Files.readString(Path.of("/proc/cpuinfo")).matches("(?s).*\\b(vmx|svm)\\b.*");
        ApiAccessTest.as("admin").when().get("/api/v1/host")
                .then().statusCode(200)
                .contentType("application/json")
                // These machines have no vmx/svm: the engine must pick TCG here, and KVM only where both exist.
                .body("accelerator", equalTo(hardware && Files.exists(Path.of("/dev/kvm")) ? "kvm" : "tcg"))
                .body("hardwareVirtualization", is(hardware))
                .body("cpus", equalTo(Runtime.getRuntime().availableProcessors()))
                .body("memoryBytes", greaterThan(0L))
                .body("qemuBinary", containsString("qemu-system-x86_64"))
                .body("qemuVersion", startsWith("7."));
    }

    @Test
    void theHostSaysHowItsWorkersAreConfined() {
        // The tests run as root with util-linux and Debian's QEMU (built with seccomp): nothing is missing here.
        ApiAccessTest.as("auditor").when().get("/api/v1/host")
                .then().statusCode(200)
                .body("confinement.mode", equalTo("required"))
                .body("confinement.confined", is(true))
                .body("confinement.unavailable", empty())
                .body("confinement.inForce", contains("own user and group per VM", "QEMU seccomp sandbox",
                        "private mount namespace", "no new privileges", "no capabilities"))
                .body("confinement.firstUid", equalTo(640000))
                .body("confinement.lastUid", equalTo(640000 + 65536 - 1));
    }

    @Test
    void theHostListShowsThisHostWithItsLoadAndVmCounts() {
        String accelerator = ApiAccessTest.as("operator").when().get("/api/v1/host").then().extract().path("accelerator");
        String id = ApiAccessTest.as("operator").when().get("/api/v1/hosts")
                .then().statusCode(200)
                .body("total", equalTo(1))
                .body("items[0].capabilities.accelerator", equalTo(accelerator))
                .body("items[0].load.memoryTotalBytes", greaterThan(0L))
                .body("items[0].load.storageFreeBytes", greaterThan(0L))
                .extract().path("items[0].id");
        ApiAccessTest.as("auditor").when().get("/api/v1/hosts/" + id)
                .then().statusCode(200)
                .body("id", equalTo(id))
                .body("load.load1", notNullValue());
    }

    @Test
    void anUnknownVmIsAProblemDocumentNamingIt() {
        ApiAccessTest.as("admin").when().get("/api/v1/vms/nope")
                .then().statusCode(404)
                .contentType("application/problem+json")
                .body("detail", equalTo("no VM with id 'nope' is defined on this host"));
    }
}
