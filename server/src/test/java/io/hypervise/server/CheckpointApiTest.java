package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.server.access.Caller;
import io.hypervise.server.template.Templates;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Checkpoints through the real stack, with a real guest that counts in its memory and, at a given count,
 * writes a file: a checkpoint taken before the file, applied later, brings back the old count and no file;
 * one taken after it, with a middle one deleted meanwhile, brings back its own later state intact; an Off
 * VM's checkpoint lives in its disk images as qcow2 snapshots, and a raw disk is refused by name.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CheckpointApiTest {

    private static final int FILE_AT = 25;
    private static final Pattern COUNT = Pattern.compile("hv-count (\\d+) file=(yes|no)");

    @Inject
    Engine engine;

    @Inject
    Templates templates;

    @Inject
    VmService vms;

    private final List<String> made = new ArrayList<>();

    @AfterAll
    void removeTheVms() {
        for (String vm : made) {
            if (engine.vms().find(vm).isPresent()) {
                if (engine.vms().status(vm).state() != VmState.OFF) {
                    engine.vms().turnOff(vm);
                }
                vms.delete(Caller.host(), vm);
            }
        }
    }

    @Test
    @Order(10)
    void aCheckpointWithMemoryBringsBackTheCountAndNotTheFileAndDeletingAMiddleOneKeepsTheLaterOne() throws Exception {
        String vm = countingVm("counter");
        // Of the Off VM first: its disks only, which cannot be applied to it once it runs.
        String offline = take(vm, "before the first start");
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitLine(vm, 0, "hv-count 2 file=no");

        String a = take(vm, "A: counting, no file yet");
        awaitLine(vm, 0, "hv-count " + (FILE_AT + 2) + " file=yes");
        String b = take(vm, "B: the file is there");
        awaitLine(vm, 0, "hv-count " + (FILE_AT + 5) + " file=yes");
        String c = take(vm, "C: later still");
        JsonPath list = checkpoints(vm);
        assertThat(list.getList("id", String.class)).containsExactly(offline, a, b, c);
        assertThat(list.getList("parent", String.class)).containsExactly(null, offline, a, b);
        assertThat(list.getList("memory", Boolean.class)).containsExactly(false, true, true, true);
        assertThat(list.getList("current", Boolean.class)).containsExactly(false, false, false, true);
        assertThat(list.getLong("[1].sizeBytes")).as("a checkpoint with memory takes room").isPositive();

        as("admin").when().post("/api/v1/vms/" + vm + "/checkpoints/" + offline + "/apply").then().statusCode(409)
                .body("detail", containsString("holds no memory: turn the VM off to apply it"));

        awaitJob(as("admin").when().delete("/api/v1/vms/" + vm + "/checkpoints/" + b).then().statusCode(202)
                .extract().path("id"));
        list = checkpoints(vm);
        assertThat(list.getList("id", String.class)).containsExactly(offline, a, c);
        assertThat(list.getList("parent", String.class)).as("C hangs under A now").containsExactly(null, offline, a);

        int[] atA = applyAndReadOn(vm, a);
        assertThat(atA[0]).as("the count A brought back").isLessThan(FILE_AT);
        assertThat(atA[1]).as("the file written after A").isZero();
        int[] atC = applyAndReadOn(vm, c);
        assertThat(atC[0]).as("the count C brought back").isGreaterThanOrEqualTo(FILE_AT + 5);
        assertThat(atC[1]).as("the file written before C").isOne();
        assertThat(checkpoints(vm).getList("current", Boolean.class)).containsExactly(false, false, true);

        // Taken into the room B freed, the file hardly grows: it still counts the memory it keeps.
        String d = take(vm, "D: after a deletion");
        JsonPath afterD = checkpoints(vm);
        assertThat(afterD.getLong("find { it.id == '" + d + "' }.sizeBytes")).isGreaterThan(16L << 20);

        as("auditor").queryParam("action", "vm.checkpoint.apply").queryParam("target", "vm:" + vm).when()
                .get("/api/v1/audit").then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED"));
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
    }

    @Test
    @Order(20)
    void anOffVmsCheckpointIsASnapshotInItsDisksAndARawDiskIsRefusedByName() throws Exception {
        String raw = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"raw one","display":"none","disks":[{"sizeMib":16,"format":"raw"}]}""")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(raw);
        as("admin").contentType("application/json").body("{\"name\":\"x\"}").when().post("/api/v1/vms/" + raw + "/checkpoints")
                .then().statusCode(400).body("violations[0].field", equalTo("disks[0]"))
                .body("violations[0].message", containsString("only qcow2 disks hold checkpoints"));
        as("admin").contentType("application/json").body("{\"name\":\"\"}").when().post("/api/v1/vms/" + raw + "/checkpoints")
                .then().statusCode(400).body("violations[0].field", equalTo("name"));

        String vm = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"off one","display":"none","disks":[{"sizeMib":16,"format":"qcow2"}]}""")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(vm);
        String cp = take(vm, "offline");
        Path disk = Path.of(as("admin").when().get("/api/v1/vms/" + vm).then().extract().<String>path("disks[0].path"));
        assertThat(snapshots(disk)).contains(cp);
        as("admin").contentType("application/json").body("{\"name\":\"renamed\"}")
                .when().patch("/api/v1/vms/" + vm + "/checkpoints/" + cp).then().statusCode(200).body("name", equalTo("renamed"));
        awaitJob(as("admin").when().post("/api/v1/vms/" + vm + "/checkpoints/" + cp + "/apply").then().statusCode(202)
                .extract().path("id"));
        awaitJob(as("admin").when().delete("/api/v1/vms/" + vm + "/checkpoints/" + cp).then().statusCode(202)
                .extract().path("id"));
        assertThat(snapshots(disk)).doesNotContain(cp);
        assertThat(checkpoints(vm).getList("id")).isEmpty();
        as("admin").when().delete("/api/v1/vms/" + vm + "/checkpoints/" + cp).then().statusCode(404);
    }

    // ------------------------------------------------------------------ helpers

    private String countingVm(String name) {
        BootSource.Kernel tiny = (BootSource.Kernel) templates.bootSource(templates.find(Templates.TINY_LINUX).orElseThrow());
        Path root = engine.storage().path();
        String id = as("admin").contentType("application/json").body("""
                {"name":"%s","display":"none","memoryMib":160,
                 "boot":{"kind":"kernel","kernel":"%s","initramfs":"%s","commandLine":"%s hv.count=%d"},
                 "disks":[{"sizeMib":32,"format":"qcow2"}]}""".formatted(name, root.relativize(tiny.kernel()),
                root.relativize(tiny.initramfs()), tiny.commandLine(), FILE_AT))
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(id);
        return id;
    }

    private static String take(String vm, String name) throws InterruptedException {
        String job = as("admin").contentType("application/json").body("{\"name\":\"" + name + "\"}")
                .when().post("/api/v1/vms/" + vm + "/checkpoints").then().statusCode(202)
                .body("kind", equalTo("vm-checkpoint")).extract().path("id");
        awaitJob(job);
        List<String> ids = checkpoints(vm).getList("id", String.class);
        return ids.get(ids.size() - 1);
    }

    private static JsonPath checkpoints(String vm) {
        return as("admin").when().get("/api/v1/vms/" + vm + "/checkpoints").then().statusCode(200).extract().jsonPath();
    }

    /** Applies the checkpoint; the first count the guest prints after it: {count, 1 if the file is there}. */
    private static int[] applyAndReadOn(String vm, String checkpoint) throws InterruptedException {
        int before = serial(vm).size();
        awaitJob(as("admin").when().post("/api/v1/vms/" + vm + "/checkpoints/" + checkpoint + "/apply").then().statusCode(202)
                .extract().path("id"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            List<String> lines = serial(vm);
            for (String line : lines.subList(Math.min(before, lines.size()), lines.size())) {
                Matcher m = COUNT.matcher(line);
                if (m.find()) {
                    return new int[] {Integer.parseInt(m.group(1)), m.group(2).equals("yes") ? 1 : 0};
                }
            }
            TimeUnit.MILLISECONDS.sleep(300);
        }
        throw new AssertionError("the guest of " + vm + " printed no count after checkpoint " + checkpoint + " was applied");
    }

    private static List<String> serial(String vm) {
        return Arrays.asList(as("admin").when().get("/api/v1/vms/" + vm + "/serial?lines=10000").then().statusCode(200)
                .extract().asString().split("\n"));
    }

    private static void awaitLine(String vm, int from, String marker) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            List<String> lines = serial(vm);
            if (lines.subList(Math.min(from, lines.size()), lines.size()).stream().anyMatch(l -> l.contains(marker))) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(300);
        }
        throw new AssertionError("the guest of " + vm + " did not print '" + marker + "'; its serial console:\n"
                + String.join("\n", serial(vm)));
    }

    private static void awaitJob(String job) throws InterruptedException {
        for (int i = 0; i < 1200; i++) {
            JsonPath state = as("admin").when().get("/api/v1/jobs/" + job).then().statusCode(200).extract().jsonPath();
            if (state.getString("state").equals("succeeded")) {
                return;
            }
            assertThat(state.getString("state")).as("job " + job + ": " + state.getString("error")).isNotEqualTo("failed");
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new AssertionError("job " + job + " did not end within 2 minutes");
    }

    private static String snapshots(Path disk) throws Exception {
        Process p = new ProcessBuilder("qemu-img", "snapshot", "-l", "-U",
                "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"" + disk + "\"}}")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }
}
