package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The pages' side of the library without a browser, as the page's scripts speak to the server: a
 * disk image uploaded over tus with the browser's session (refused without htmx's header), the new-VM
 * wizard offering it, its dry run and its creation of a linked clone, the VM's pane naming the image it
 * came from, and the image's delete refused while the VM uses it. A self-service user's dry run asks
 * their policy about the library item.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NewVmFromLibraryPageTest {

    private static final String VM = "from the library";
    private static final String IMAGE = "wizard disk";
    private static final Map<String, String> HTMX = Map.of("HX-Request", "true");

    @TestHTTPResource("/")
    URL url;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @AfterAll
    void removeWhatWasMade() {
        QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("name", VM))
                .forEach(vm -> vms.delete(Caller.host(), vm.id));
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById("libpages-alice"));
    }

    @Test
    void theWizardMakesALinkedCloneOfALibraryDiskAndThePaneSaysSo() {
        String base = "http://127.0.0.1:" + url.getPort();
        HttpBrowser admin = new HttpBrowser();
        assertThat(admin.signIn(base, "admin", "admin").statusCode()).isEqualTo(200);

        // The page's upload: tus with the session; a request without htmx's header is another site's.
        byte[] image = new byte[2 << 20];
        new Random(7).nextBytes(image);
        Map<String, String> create = Map.of("Tus-Resumable", "1.0.0", "Upload-Length", Integer.toString(image.length),
                "Upload-Metadata", metadata("name", IMAGE, "kind", "disk", "visibility", "everyone"));
        assertThat(admin.sendWith("POST", URI.create(base + "/ui/library/uploads"), HttpRequest.BodyPublishers.noBody(), create)
                .statusCode()).isEqualTo(403);
        HttpResponse<String> created = admin.sendWith("POST", URI.create(base + "/ui/library/uploads"),
                HttpRequest.BodyPublishers.noBody(), with(create, HTMX));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        String location = created.headers().firstValue("Location").orElseThrow();
        assertThat(location).contains("/ui/library/uploads/up-");
        String item = JsonPath.from(created.body()).getString("itemId");
        HttpResponse<String> appended = admin.sendWith("PATCH", URI.create(base).resolve(location),
                HttpRequest.BodyPublishers.ofByteArray(image), with(HTMX, Map.of("Tus-Resumable", "1.0.0", "Upload-Offset", "0",
                        "Content-Type", "application/offset+octet-stream")));
        assertThat(appended.statusCode()).as(appended.body()).isEqualTo(204);
        String job = appended.headers().firstValue("Hypervise-Job").orElseThrow();
        assertThat(job).startsWith("/ui/jobs/");
        awaitJob(admin, base + job);

        // The wizard offers the image; its dry run and its creation take it as a linked clone.
        assertThat(admin.get(URI.create(base + "/ui/vms/new")).body())
                .contains("<option value=\"library-disk\">")
                .contains("<option value=\"" + item + "\">" + IMAGE + " — raw, 2.0 MiB</option>");
        Map<String, String> form = new LinkedHashMap<>(Map.of("source", "library-disk", "libraryDisk", item, "clone", "linked",
                "name", VM, "memoryMib", "64", "firmware", "uefi", "profile", ""));
        HttpResponse<String> check = postHtmx(admin, base + "/ui/vms/check", form);
        assertThat(check.body()).as("the dry run").contains("This VM would be accepted");
        HttpResponse<String> made = postHtmx(admin, base + "/ui/vms", form);
        assertThat(made.statusCode()).as(made.body()).isEqualTo(204);
        assertThat(made.headers().firstValue("HX-Trigger").orElseThrow()).contains("Created '" + VM + "'");
        String vm = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("name", VM)).getFirst().id;
        JsonPath view = as("admin").when().get("/api/v1/vms/" + vm).then().statusCode(200).extract().jsonPath();
        assertThat(view.getString("firmware")).isEqualTo("uefi");
        assertThat(view.getString("disks[0].libraryItem")).isEqualTo(item);
        assertThat(view.getString("disks[0].base")).as("a linked clone reads the library's image").isNotNull();
        assertThat(view.getString("disks[0].format")).isEqualTo("qcow2");

        assertThat(admin.get(URI.create(base + "/ui/vms/" + vm + "/pane")).body())
                .contains("<dt>Firmware</dt><dd>UEFI</dd>")
                .contains("a linked clone of <a href=\"/admin/library?item=" + item + "\">" + IMAGE + "</a> from the library");

        // The library page names the VM that uses the image, and its delete says why it is refused.
        assertThat(admin.get(URI.create(base + "/admin/library?item=" + item)).body())
                .contains(IMAGE).contains("<a href=\"/admin/vms/" + vm + "\">" + VM + "</a>");
        HttpResponse<String> refused = postHtmx(admin, base + "/ui/library/items/" + item + "/delete", Map.of());
        assertThat(refused.statusCode()).isEqualTo(409);
        assertThat(JsonPath.from(refused.body()).getString("detail"))
                .contains("library item '" + IMAGE + "' is used by").contains("VM '" + VM + "'");

        // A self-service user is offered what they may see; their policy decides, in the dry run too.
        TestPolicies.ensureStubTemplate(engine);
        TestPolicies.allowEverything("libpages-alice", "alice");
        HttpBrowser alice = new HttpBrowser();
        assertThat(alice.signIn(base, "alice", "alice").statusCode()).isEqualTo(200);
        assertThat(alice.get(URI.create(base + "/ui/vms/new")).body()).contains("<option value=\"" + item + "\">");
        form.put("name", "alice from the library");
        assertThat(postHtmx(alice, base + "/ui/vms/check", form).body())
                .contains("This VM would not be allowed")
                .contains("library item &#39;" + item + "&#39; is not allowed for alice");
        QuarkusTransaction.requiringNew().run(() ->
                PolicyEntity.<PolicyEntity>findById("libpages-alice").libraryItems = new String[] {item});
        assertThat(postHtmx(alice, base + "/ui/vms/check", form).body()).contains("Your policies allow this VM");

        vms.delete(Caller.host(), vm);
        assertThat(postHtmx(admin, base + "/ui/library/items/" + item + "/delete", Map.of()).statusCode()).isEqualTo(204);
        as("admin").when().get("/api/v1/library/" + item).then().statusCode(404);
    }

    private static HttpResponse<String> postHtmx(HttpBrowser browser, String uri, Map<String, String> form) {
        String body = form.entrySet().stream()
                .map(e -> java.net.URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                        + java.net.URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        return browser.sendWith("POST", URI.create(uri), HttpRequest.BodyPublishers.ofString(body),
                with(HTMX, Map.of("Content-Type", "application/x-www-form-urlencoded")));
    }

    private static void awaitJob(HttpBrowser browser, String job) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = browser.get(URI.create(job));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            String state = JsonPath.from(r.body()).getString("state");
            if (state.equals("succeeded")) {
                return;
            }
            assertThat(state).as(r.body()).isIn("queued", "running");
            io.hypervise.server.testing.Browser.sleep(200);
        }
        throw new AssertionError("the import job " + job + " did not end within a minute");
    }

    private static Map<String, String> with(Map<String, String> a, Map<String, String> b) {
        Map<String, String> all = new LinkedHashMap<>(a);
        all.putAll(b);
        return all;
    }

    private static String metadata(String... pairs) {
        List<String> parts = new java.util.ArrayList<>();
        for (int i = 0; i < pairs.length; i += 2) {
            parts.add(pairs[i] + " " + Base64.getEncoder().encodeToString(pairs[i + 1].getBytes(StandardCharsets.UTF_8)));
        }
        return String.join(",", parts);
    }
}
