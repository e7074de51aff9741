package io.hypervise.server;

import static io.hypervise.server.testing.Tokens.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A new VM's rows as creation writes them (plain SQL, not through Hibernate) are what every reader finds: the
 * API and the entity Hibernate loads agree with what was asked; and a rule of the inventory the rows break (a MAC
 * another VM has) is a 409 in words that leaves no row behind.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class VmRowsTest {

    private static final String MAC = "52:54:00:7e:57:01";

    @AfterEach
    void deleteThem() {
        for (String name : new String[] {"rows-everything", "rows-same-mac"}) {
            JsonPath found = as("admin").queryParam("name", name).when().get("/api/v1/vms").then().extract().jsonPath();
            for (String id : found.getList("items.id", String.class)) {
                as("admin").when().delete("/api/v1/vms/" + id).then().statusCode(204);
            }
        }
    }

    @Test
    void whatCreationWritesIsWhatTheApiAndHibernateRead() {
        String id = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"rows-everything","vcpus":2,"memoryMib":192,"maxVcpus":4,
                 "maxMemoryMib":512,"disks":[{"sizeMib":16,"format":"qcow2"}],"nics":[{"mac":"%s"}],
                 "resources":{"cpuWeight":300,"diskIops":500,"networkReceiveBitsPerSecond":8000000}}""".formatted(MAC))
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");

        JsonPath vm = as("admin").when().get("/api/v1/vms/" + id).then().statusCode(200).extract().jsonPath();
        assertThat(vm.getString("name")).isEqualTo("rows-everything");
        assertThat(vm.getString("owner")).isEqualTo("admin");
        assertThat(vm.getString("template")).isEqualTo("tiny-linux");
        assertThat(vm.getString("state")).isEqualTo("Off");
        assertThat(vm.getInt("vcpus")).isEqualTo(2);
        assertThat(vm.getInt("memoryMib")).isEqualTo(192);
        assertThat(vm.getInt("maxVcpus")).isEqualTo(4);
        assertThat(vm.getInt("maxMemoryMib")).isEqualTo(512);
        assertThat(vm.getString("nics[0].mac")).isEqualTo(MAC);
        assertThat(vm.getLong("disks[0].sizeBytes")).isEqualTo(16L << 20);
        assertThat(vm.getString("disks[0].format")).isEqualTo("qcow2");
        assertThat(vm.getInt("resources.cpuWeight")).isEqualTo(300);
        assertThat(vm.getInt("resources.diskIops")).isEqualTo(500);
        assertThat(vm.getLong("resources.networkReceiveBitsPerSecond")).isEqualTo(8_000_000L);
        assertThat(vm.getString("pending")).isNull();

        VmEntity row = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>findById(id).loaded());
        assertThat(row.hostId).isNotBlank();
        assertThat(row.ownerGroups).isNotNull();
        assertThat(row.memoryDimmsMib).isEmpty();
        assertThat(row.boot.kind).isEqualTo("KERNEL");
        assertThat(row.createdAt).isNotNull().isEqualTo(row.stateSince);
        assertThat(row.disks).hasSize(1).first().satisfies(d -> {
            assertThat(d.position).isEqualTo((short) 0);
            assertThat(d.vm.id).isEqualTo(id);
        });
        assertThat(row.nics).extracting(n -> n.mac).containsExactly(MAC);
        assertThat(row.version).isZero();

        // Its rows are Hibernate's to change afterwards, as any other VM's.
        as("admin").contentType("application/json").body("{\"name\":\"rows-everything\",\"vcpus\":3}")
                .when().patch("/api/v1/vms/" + id).then().statusCode(200).body("vcpus", equalTo(3));
    }

    @Test
    void aMacAnotherVmHasIsRefusedInWordsAndLeavesNoRow() {
        as("admin").contentType("application/json")
                .body("{\"template\":\"tiny-linux\",\"name\":\"rows-everything\",\"nics\":[{\"mac\":\"" + MAC + "\"}]}")
                .when().post("/api/v1/vms").then().statusCode(201);

        as("admin").contentType("application/json")
                .body("{\"template\":\"tiny-linux\",\"name\":\"rows-same-mac\",\"nics\":[{\"mac\":\"" + MAC + "\"}]}")
                .when().post("/api/v1/vms").then().statusCode(409)
                .body("detail", equalTo("nics: another VM already has a network adapter with this MAC address"));
        as("admin").queryParam("name", "rows-same-mac").when().get("/api/v1/vms").then().statusCode(200)
                .body("total", equalTo(0));
    }
}
