package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.server.testing.Browser;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakAdmin;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Cookie;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.WindowType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.interactions.Actions;

/**
 * The console in a real browser: noVNC in headless Chromium, signed in through Keycloak's login form,
 * against a real tiny-linux guest. What counts is what the guest did: its screen (pixels of a
 * screenshot) and its serial console (a marker a typed command wrote there). One guest serves every
 * step; the steps run in order.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleTest {

    static final Path SCREENSHOTS = Browser.SCREENSHOTS;
    private static final Duration CONNECT = Duration.ofSeconds(30);

    @TestHTTPResource("/")
    URL url;

    @Inject
    Engine engine;

    @Inject
    io.hypervise.server.console.Thumbnails thumbnails;

    private String base;
    private String id;
    private ChromeDriver browser;
    private String consoleWindow;
    private Map<String, String> aliceCookies;

    @Test
    @Order(0)
    void aliceBootsHerGuest() throws IOException {
        base = "http://127.0.0.1:" + url.getPort(); // Keycloak accepts any port on the loopback address
        TestPolicies.allowEverything("console-everything", "alice");
        id = as("alice").contentType("application/json").body("{\"template\":\"tiny-linux\",\"name\":\"console box\"}").log().ifValidationFails()
                .when().post("/api/v1/vms").then().log().ifValidationFails().statusCode(201).extract().path("id");
        String job = as("alice").when().post("/api/v1/vms/" + id + "/start").then().statusCode(202).extract().path("id");
        VmApiTest.awaitJob("alice", job);
        awaitSerial("HYPERVISE-READY", Duration.ofSeconds(60));
        Files.createDirectories(SCREENSHOTS);
        browser = Browser.chromium(1100, 900);
    }

    @AfterAll
    void closeEverything() {
        if (browser != null) {
            browser.quit();
        }
        if (id != null) {
            engine.vms().turnOff(id);
        }
        io.quarkus.narayana.jta.QuarkusTransaction.requiringNew()
                .run(() -> io.hypervise.server.policy.PolicyEntity.deleteById("console-everything"));
    }

    @Test
    @Order(1)
    void aliceSignsInAndSeesHerGuestsScreen() throws IOException {
        browser.get(base + "/console/" + id);
        signIn("alice");
        awaitConnected();
        consoleWindow = browser.getWindowHandle();
        BufferedImage screen = awaitScreenWithText("console-alice.png");
        assertThat(screen.getWidth()).isGreaterThan(300);
        aliceCookies = browserCookies();
    }

    @Test
    @Order(2)
    void whatSheTypesRunsInTheGuest() {
        String marker = "hv-typed-" + UUID.randomUUID().toString().substring(0, 8);
        type(canvas(), "echo " + marker + " > /dev/ttyS0\n");
        awaitSerial(marker, Duration.ofSeconds(30));
    }

    @Test
    @Order(3)
    void pastedTextArrivesAsKeystrokes() {
        String marker = "hv-pasted-" + UUID.randomUUID().toString().substring(0, 8);
        browser.findElement(By.id("paste")).click();
        browser.findElement(By.id("paste-text")).sendKeys("echo " + marker.toUpperCase() + " > /dev/ttyS0\n");
        browser.findElement(By.id("paste-send")).click();
        awaitSerial(marker.toUpperCase(), Duration.ofSeconds(30));
    }

    @Test
    @Order(4)
    void aViewOnlyViewersKeystrokesNeverReachTheGuest() {
        browser.switchTo().newWindow(WindowType.TAB);
        browser.get(base + "/console/" + id + "?view-only=true");
        awaitConnected();
        assertThat(browser.findElement(By.id("mode")).isDisplayed()).isTrue();
        // noVNC would not even send them; make it, so that only the server stands in the way.
        ((JavascriptExecutor) browser).executeScript("window.hypervise.rfb.viewOnly = false;");
        String ignored = "hv-ignored-" + UUID.randomUUID().toString().substring(0, 8);
        type(canvas(), "echo " + ignored + " > /dev/ttyS0\n");
        browser.close(); // the view-only viewer leaves; the full one is still connected

        browser.switchTo().window(consoleWindow);
        assertThat(browser.findElement(By.id("status")).getAttribute("data-state")).isEqualTo("connected");
        String after = "hv-after-" + UUID.randomUUID().toString().substring(0, 8);
        type(canvas(), "echo " + after + " > /dev/ttyS0\n");
        awaitSerial(after, Duration.ofSeconds(30));
        assertThat(serial()).doesNotContain(ignored);
    }

    @Test
    @Order(5)
    void theThumbnailIsTheSameScreen() throws IOException {
        byte[] png = as("alice").when().get("/api/v1/vms/" + id + "/screen.png?width=200").then().statusCode(200)
                .contentType("image/png").extract().asByteArray();
        BufferedImage thumbnail = ImageIO.read(new ByteArrayInputStream(png));
        Files.write(SCREENSHOTS.resolve("thumbnail.png"), png);
        assertThat(thumbnail.getWidth()).isEqualTo(200);
        assertThat(foregroundPixels(thumbnail)).as("pixels of text in the thumbnail").isGreaterThan(50);
        // Thumbnails are shared: five lists asking within the default 5 s cost at most one grab; maxAge=0 grabs each time.
        long before = thumbnails.grabs();
        for (int i = 0; i < 5; i++) {
            as("alice").when().get("/api/v1/vms/" + id + "/screen.png?width=120").then().statusCode(200);
        }
        assertThat(thumbnails.grabs() - before).as("frames grabbed for five requests").isEqualTo(1);
        before = thumbnails.grabs();
        for (int i = 0; i < 3; i++) {
            as("alice").when().get("/api/v1/vms/" + id + "/screen.png?width=120&maxAge=0").then().statusCode(200);
        }
        assertThat(thumbnails.grabs() - before).as("frames grabbed for three requests with maxAge=0").isEqualTo(3);
        as("alice").when().get("/api/v1/vms/" + id + "/screen.png?maxAge=61").then().statusCode(400);
        as("bob").when().get("/api/v1/vms/" + id + "/screen.png").then().statusCode(404);
        as("auditor").when().get("/api/v1/vms/" + id + "/screen.png").then().statusCode(403);
    }

    @Test
    @Order(6)
    void othersAreRefusedAtTheHandshake() {
        assertThat(handshake(Map.of(), Map.of())).as("nobody signed in").isEqualTo(401);
        assertThat(handshake(aliceCookies, Map.of("Origin", base))).as("alice, from this server's page").isEqualTo(101);
        assertThat(handshake(aliceCookies, Map.of("Origin", "http://evil.example"))).as("another site's page").isEqualTo(403);
        signOut();
        browser.get(base + "/console/" + id);
        signIn("bob");
        assertThat(browser.findElement(By.tagName("h1")).getText()).as("bob's page").isEqualTo("No console");
        assertThat(handshake(browserCookies(), Map.of())).as("bob, on alice's VM").isEqualTo(404);
        signOut();
        browser.get(base + "/console/" + id);
        signIn("auditor");
        assertThat(browser.findElement(By.tagName("body")).getText()).as("the auditor's page").contains("auditor has no role that may connect to VM consoles")
                .doesNotContain("Ctrl-Alt-Del");
        assertThat(handshake(browserCookies(), Map.of())).as("the auditor, who sees no screens").isEqualTo(403);
        signOut();
    }

    @Test
    @Order(7)
    void theConsoleReconnectsWhenTheVmComesBack() throws IOException {
        browser.get(base + "/console/" + id);
        signIn("alice");
        awaitConnected();
        as("alice").when().post("/api/v1/vms/" + id + "/turn-off").then().statusCode(200);
        await("the console to notice the VM is gone", Duration.ofSeconds(20),
                () -> !"connected".equals(browser.findElement(By.id("status")).getAttribute("data-state")));
        String job = as("alice").when().post("/api/v1/vms/" + id + "/start").then().statusCode(202).extract().path("id");
        VmApiTest.awaitJob("alice", job);
        awaitConnected();
        awaitScreenWithText("console-after-restart.png");
        browser.get(base + "/"); // leave: the session ends
    }

    @Test
    @Order(8)
    void eachSessionIsAudited() {
        await("the last session's end in the audit log", Duration.ofSeconds(10), () -> audit().getList(
                "items.action", String.class).stream().filter("vm.console.close"::equals).count() >= 3);
        var entries = audit();
        List<Map<String, Object>> items = entries.getList("items");
        assertThat(items).filteredOn(e -> e.get("action").equals("vm.console.open")).extracting(e -> e.get("actor"))
                .containsOnly("alice").hasSizeGreaterThanOrEqualTo(3);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> viewOnlyEnds = items.stream().filter(e -> e.get("action").equals("vm.console.close"))
                .map(e -> (Map<String, Object>) e.get("parameters"))
                .filter(p -> Boolean.TRUE.equals(p.get("viewOnly"))).toList();
        assertThat(viewOnlyEnds).hasSize(1);
        assertThat(((Number) viewOnlyEnds.get(0).get("inputsDropped")).intValue()).isGreaterThan(10);
        assertThat(((Number) viewOnlyEnds.get(0).get("seconds")).doubleValue()).isPositive();
        assertThat(items).filteredOn(e -> e.get("action").equals("vm.console") && e.get("outcome").equals("DENIED"))
                .extracting(e -> e.get("actor")).contains("anonymous", "bob", "auditor");
        as("auditor").when().get("/api/v1/audit/verify").then().statusCode(200);
    }

    @Test
    @Order(9)
    void signingOutClosesTheConsoleAndEndsTheSession() {
        signOut(); // a fresh sign-in, so that exactly one Keycloak session is this browser's
        browser.get(base + "/console/" + id);
        signIn("alice");
        awaitConnected();
        String console = browser.getWindowHandle();
        Map<String, String> signedIn = browserCookies();
        List<String> keycloakSessions = KeycloakAdmin.webSessions("alice");
        assertThat(handshake(signedIn, Map.of())).as("the console, before signing out").isEqualTo(101);

        browser.switchTo().newWindow(WindowType.TAB);
        browser.get(base + "/portal");
        browser.findElement(By.cssSelector("a.signout")).click();
        await("the home page, signed out", Duration.ofSeconds(20),
                () -> browser.getCurrentUrl().replaceFirst("\\?.*", "").equals(base + "/")
                        && browser.findElement(By.tagName("main")).getText().contains("Sign in"));
        browser.close();
        browser.switchTo().window(console);
        // The server closed the console; the page, finding itself sent to sign in, stops retrying.
        await("the console to close and say so", Duration.ofSeconds(20),
                () -> "signed-out".equals(browser.findElement(By.id("status")).getAttribute("data-state")));
        browser.findElement(By.id("sign-in")).click();
        await("Keycloak's login form", Duration.ofSeconds(20),
                () -> browser.getCurrentUrl().startsWith(KeycloakTestResource.realmUrl()));
        await("the console's end in the audit log", Duration.ofSeconds(10), () -> audit().getList("items.parameters.ended",
                String.class).stream().anyMatch(ended -> ended != null && ended.contains("signed out")));

        // The old session cookie, replayed, opens nothing: no page, no console.
        HttpResponse<String> page = new HttpBrowser(signedIn).get(URI.create(base + "/portal"));
        assertThat(page.statusCode()).as("the portal with the old cookie").isEqualTo(303);
        assertThat(page.headers().firstValue("Location").orElse("")).startsWith(base + "/login?then=%2Fportal");
        HttpResponse<String> login = new HttpBrowser(signedIn).get(URI.create(base + "/login"));
        assertThat(login.headers().firstValue("Location").orElse("")).as("signing in with the old cookie")
                .startsWith(KeycloakTestResource.realmUrl() + "/protocol/openid-connect/auth");
        assertThat(handshake(signedIn, Map.of())).as("the console with the old cookie").isEqualTo(401);
        // And Keycloak ended its session too.
        List<String> after = KeycloakAdmin.webSessions("alice");
        assertThat(keycloakSessions).containsAll(after).hasSize(after.size() + 1);
    }

    // ---------------------------------------------------------------- the browser

    private void awaitConnected() {
        await("noVNC to connect", CONNECT,
                () -> "connected".equals(browser.findElement(By.id("status")).getAttribute("data-state")));
    }

    private Map<String, String> browserCookies() {
        return browser.manage().getCookies().stream().collect(Collectors.toMap(Cookie::getName, Cookie::getValue));
    }

    private WebElement canvas() {
        return browser.findElement(By.cssSelector("#screen canvas"));
    }

    /** Types as a person does on a US keyboard: Shift held down for the characters that need it. */
    private void type(WebElement target, String text) {
        Actions keys = new Actions(browser).click(target);
        for (char c : text.toCharArray()) {
            int shifted = SHIFTED.indexOf(c);
            if (shifted >= 0) {
                keys = keys.keyDown(Keys.SHIFT).sendKeys(String.valueOf(UNSHIFTED.charAt(shifted))).keyUp(Keys.SHIFT);
            } else {
                keys = keys.sendKeys(String.valueOf(c));
            }
        }
        keys.perform();
        sleep(300);
        try {
            Files.write(SCREENSHOTS.resolve("console-typed.png"), canvas().getScreenshotAs(OutputType.BYTES));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final String SHIFTED = ">|_:ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private static final String UNSHIFTED = ".\\-;abcdefghijklmnopqrstuvwxyz";

    /** The console's canvas once it shows text, saved under target/screenshots. */
    private BufferedImage awaitScreenWithText(String name) throws IOException {
        long deadline = System.nanoTime() + CONNECT.toNanos();
        while (true) {
            byte[] png = canvas().getScreenshotAs(OutputType.BYTES);
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
            if (foregroundPixels(image) > 500 || System.nanoTime() > deadline) {
                Files.write(SCREENSHOTS.resolve(name), png);
                assertThat(foregroundPixels(image)).as("pixels of text on the screen (see " + SCREENSHOTS.resolve(name) + ")")
                        .isGreaterThan(500);
                return image;
            }
            sleep(250);
        }
    }

    /** Pixels that differ from the screen's most common colour (its background). */
    static long foregroundPixels(BufferedImage image) {
        Map<Integer, Integer> histogram = new HashMap<>();
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                histogram.merge(image.getRGB(x, y) & 0xffffff, 1, Integer::sum);
            }
        }
        int background = histogram.values().stream().max(Integer::compare).orElse(0);
        return (long) image.getWidth() * image.getHeight() - background;
    }

    // ---------------------------------------------------------------- the handshake, by hand

    /** The status a WebSocket upgrade to the console gets, with these cookies and headers. */
    private int handshake(Map<String, String> cookies, Map<String, String> headers) {
        WebSocket.Builder builder = HttpClient.newHttpClient().newWebSocketBuilder().subprotocols("binary");
        String cookieHeader = cookies.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining("; "));
        if (!cookieHeader.isEmpty()) {
            builder.header("Cookie", cookieHeader);
        }
        headers.forEach(builder::header);
        try {
            WebSocket socket = builder.buildAsync(URI.create(base.replace("http:", "ws:") + "/console/" + id + "/websockify"),
                    new WebSocket.Listener() { }).get(10, TimeUnit.SECONDS);
            socket.abort();
            return 101;
        } catch (java.util.concurrent.ExecutionException | CompletionException e) {
            if (e.getCause() instanceof WebSocketHandshakeException refused) {
                return refused.getResponse().statusCode();
            }
            throw new AssertionError("the handshake failed otherwise", e);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    // ---------------------------------------------------------------- the guest

    private io.restassured.path.json.JsonPath audit() {
        return as("auditor").queryParam("target", "vm:" + id).queryParam("size", 200)
                .when().get("/api/v1/audit").then().statusCode(200).extract().jsonPath();
    }

    private String serial() {
        return as("alice").when().get("/api/v1/vms/" + id + "/serial?lines=500").then().statusCode(200).extract().asString();
    }

    private void awaitSerial(String marker, Duration timeout) {
        await("the guest to print " + marker + " on its serial console", timeout, () -> serial().contains(marker));
    }

    private void await(String what, Duration timeout, BooleanSupplier condition) {
        Browser.await(browser, what, timeout, condition);
    }

    private void signIn(String user) {
        Browser.signIn(browser, user, base + "/console/");
    }

    private void signOut() {
        Browser.signOut(browser);
    }

    private static void sleep(long millis) {
        Browser.sleep(millis);
    }
}
