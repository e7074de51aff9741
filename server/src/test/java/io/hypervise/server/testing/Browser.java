package io.hypervise.server.testing;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * Debian's Chromium, headless, driven through Debian's chromedriver (no browser downloads), and what
 * the browser tests do with it as a person would: sign in on Keycloak's form, wait for what they
 * expect to see, keep screenshots under target/screenshots to look at.
 */
public final class Browser {

    public static final Path SCREENSHOTS = Path.of("target/screenshots");

    private Browser() {
    }

    public static ChromeDriver chromium(int width, int height) {
        ChromeOptions options = new ChromeOptions();
        options.setBinary("/usr/bin/chromium");
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--window-size=" + width + "," + height, "--lang=en-US");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(Path.of("/usr/bin/chromedriver").toFile())
                .usingAnyFreePort().build();
        ChromeDriver driver = new ChromeDriver(service, options);
        driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(60)).scriptTimeout(Duration.ofSeconds(30));
        return driver;
    }

    /** Keycloak's own login form, as a person fills it in; then waits to be back at {@code landing}. */
    public static void signIn(ChromeDriver browser, String user, String landing) {
        await(browser, "Keycloak's login form", Duration.ofSeconds(30), () -> !browser.findElements(By.id("username")).isEmpty());
        browser.findElement(By.id("username")).sendKeys(user);
        browser.findElement(By.id("password")).sendKeys(user);
        browser.findElement(By.id("kc-login")).click();
        await(browser, landing, Duration.ofSeconds(30), () -> browser.getCurrentUrl().startsWith(landing));
    }

    /** Forgets every session, the server's and Keycloak's: the next page asks who you are. */
    public static void signOut(ChromeDriver browser) {
        browser.executeCdpCommand("Network.clearBrowserCookies", Map.of());
    }

    /** Saves what the browser shows now (the whole page) as target/screenshots/{name}. */
    public static Path screenshot(ChromeDriver browser, String name) {
        try {
            Files.createDirectories(SCREENSHOTS);
            Path file = SCREENSHOTS.resolve(name);
            Files.write(file, browser.getScreenshotAs(OutputType.BYTES));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** axe-core, the accessibility checker, from the frontend's npm packages (a dev dependency, never served). */
    private static final Path AXE = Path.of("../frontend/node_modules/axe-core/axe.min.js");

    /**
     * What axe-core finds against WCAG 2 A and AA on the page as it is now: one line per rule broken,
     * with where. Empty when it finds nothing.
     */
    @SuppressWarnings("unchecked")
    public static List<String> accessibilityViolations(ChromeDriver browser) {
        try {
            browser.executeScript(Files.readString(AXE));
        } catch (IOException e) {
            throw new UncheckedIOException("axe-core is missing at " + AXE.toAbsolutePath() + ": frontend/build.sh installs it", e);
        }
        return (List<String>) browser.executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] })
                  .then(r => done(r.violations.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at '
                      + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join('; '))))
                  .catch(e => done(['axe failed: ' + e]));""");
    }

    /**
     * Waits for the condition, failing with what the browser shows if it does not come true in time. An
     * element that htmx replaced while the condition read it counts as not yet.
     */
    public static void await(ChromeDriver browser, String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!holds(condition)) {
            if (System.nanoTime() > deadline) {
                String where = browser == null ? "" : "; the browser is at " + browser.getCurrentUrl() + ", showing:\n"
                        + browser.findElement(By.tagName("body")).getText();
                fail("waited " + timeout.toSeconds() + " s for " + what + where);
            }
            sleep(200);
        }
    }

    /** Reads the page, again if htmx replaced what was being read (a list refreshes every few seconds). */
    public static <T> T fresh(Supplier<T> read) {
        for (int attempt = 0; ; attempt++) {
            try {
                return read.get();
            } catch (StaleElementReferenceException e) {
                if (attempt == 20) {
                    throw e;
                }
                sleep(100);
            }
        }
    }

    private static boolean holds(BooleanSupplier condition) {
        try {
            return condition.getAsBoolean();
        } catch (StaleElementReferenceException e) {
            return false;
        }
    }

    public static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UncheckedIOException(new IOException("interrupted", e));
        }
    }
}
