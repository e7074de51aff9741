package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.access.Caller;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A real distribution through the real stack: an administrator builds the debian-12 template on the
 * host (debootstrap; about 4 minutes, or a copy of one this machine built before), a VM is created from
 * it with a host name and a user for its first boot, and booted under UEFI from its own disk (GRUB, its
 * own kernel): its serial console greets with the host name that was asked for.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DebianTemplateTest {

    private static final String KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvpjtFQ1yB1ePIjTgBNbW6aF3kN3Bm3T1jWqy5dQp0E tester@hypervise";
    /** openssl passwd -6 -salt hypervise debian */
    private static final String HASH = "$6$hypervise$.wVJ6ax65IM80fPZ1CPkS7BYeV.oAavmluP8prmqK22pDYFqo6/VfVD/7PPvUBjGvcIUgPcVbclKyPE0rDBeg.";

    private static final Pattern KERNEL_LINE = Pattern.compile("\\[\\s*\\d+\\.\\d+\\] [^\\r\\n]*\\r?\\n");

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    private String vm;

    @AfterAll
    void removeTheVm() {
        if (vm != null && engine.vms().find(vm).isPresent()) {
            if (engine.vms().status(vm).state() != VmState.OFF) {
                engine.vms().turnOff(vm);
            }
            vms.delete(Caller.host(), vm);
        }
    }

    @Test
    @Order(10)
    void untilItIsBuiltNoVmComesFromIt() {
        as("admin").when().get("/api/v1/templates/debian-12").then().statusCode(200).body("boot", equalTo("disk"));
        if (!as("admin").when().get("/api/v1/templates/debian-12").then().extract().<Boolean>path("ready")) {
            as("admin").contentType("application/json").body("{\"template\":\"debian-12\"}").when().post("/api/v1/vms")
                    .then().statusCode(400).body("violations[0].field", equalTo("template"))
                    .body("violations[0].message", startsWith("the debian-12 template is not built on this host yet"));
        }
        as("alice").when().post("/api/v1/templates/debian-12/build").then().statusCode(403);
    }

    @Test
    @Order(20)
    void anAdministratorBuildsItAndAVmFromItGreetsWithItsOwnHostName() throws Exception {
        String job = as("admin").when().post("/api/v1/templates/debian-12/build").then().statusCode(202)
                .body("kind", equalTo("template-build")).extract().path("id");
        awaitJob(job, Duration.ofMinutes(20));
        as("operator").when().get("/api/v1/templates").then().statusCode(200)
                .body("items.find { it.id == 'debian-12' }.ready", equalTo(true));

        as("admin").contentType("application/json")
                .body("{\"template\":\"debian-12\",\"guest\":{\"hostName\":\"bad_name!\",\"user\":\"debian\"}}")
                .when().post("/api/v1/vms").then().statusCode(400)
                .body("violations.field", hasItem("guest"));
        String host = "hv-deb-" + Integer.toHexString(new Random().nextInt(1 << 20));
        vm = as("admin").contentType("application/json").body("""
                {"template":"debian-12","name":"debian","firmware":"uefi","display":"none",
                 "guest":{"hostName":"%s","user":"debian","sshAuthorizedKeys":["%s"],"passwordHash":"%s"}}"""
                .formatted(host, KEY, HASH))
                .when().post("/api/v1/vms").then().statusCode(201)
                .body("firmware", equalTo("uefi"))
                .body("disks.size()", equalTo(2))
                .body("disks[0].base", startsWith(engine.storage().library().resolve("debian-12").toString()))
                .body("disks[1].format", equalTo("raw"))
                .extract().path("id");
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        String serial = awaitSerial(host + " login:", Duration.ofMinutes(6));
        assertThat(serial).as("the first-boot unit took the seed's user").contains("debian");
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
    }

    private String awaitSerial(String marker, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String serial = "";
        while (System.nanoTime() < deadline) {
            serial = as("admin").when().get("/api/v1/vms/" + vm + "/serial?lines=2000").then().statusCode(200).extract().asString();
            // The kernel prints on the same console whenever it likes (modules udev loads as the prompt
            // appears): a line of it can land inside "NAME login:", so its lines are taken out first.
            if (KERNEL_LINE.matcher(serial).replaceAll("").contains(marker)) {
                return serial;
            }
            TimeUnit.SECONDS.sleep(1);
        }
        // The whole log goes to a file; the message ends with what tells why (what the first-boot unit said,
        // which prompt appeared), so that even a tail of it explains the failure.
        Path log = Path.of("target", "debian-serial-" + vm + ".log");
        try {
            Files.writeString(log, serial);
        } catch (IOException e) {
            log = null;
        }
        String telling = serial.lines().filter(l -> l.contains("hypervise-seed") || l.contains("login:") || l.contains("cidata"))
                .collect(Collectors.joining("\n"));
        throw new AssertionError("the guest did not print '" + marker + "' within " + timeout.toSeconds() + " s (whole serial log: "
                + (log == null ? "not written" : log.toAbsolutePath()) + "); the first-boot unit and the prompts said:\n" + telling);
    }

    private static void awaitJob(String job, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            var state = as("admin").when().get("/api/v1/jobs/" + job).then().statusCode(200).extract().jsonPath();
            switch (state.getString("state")) {
                case "succeeded" -> {
                    return;
                }
                case "failed" -> throw new AssertionError("job " + job + " failed: " + state.getString("error"));
                default -> TimeUnit.SECONDS.sleep(1);
            }
        }
        throw new AssertionError("job " + job + " did not end within " + timeout.toMinutes() + " minutes");
    }
}
