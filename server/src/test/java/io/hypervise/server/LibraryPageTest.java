package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.testing.Browser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;

/**
 * The library page in a real browser: a disk image the test writes is picked in the upload form, sent
 * by tus-js-client (the page's own copy, from npm) with the browser's session, its progress shown to
 * 100 %, its import followed until the item is in the table; the wizard makes a VM from it; its delete
 * is refused with the server's reason while the VM uses it, and goes through once it does not.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LibraryPageTest {

    private static final String IMAGE = "browser disk";
    private static final String VM = "browser clone";

    @TestHTTPResource("/")
    URL url;

    @Inject
    VmService vms;

    private ChromeDriver browser;
    private Path file;

    @AfterAll
    void closeEverything() throws IOException {
        if (browser != null) {
            browser.quit();
        }
        QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("name", VM))
                .forEach(vm -> vms.delete(Caller.host(), vm.id));
        if (file != null) {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void anAdministratorUploadsADiskImageMakesAVmFromItAndDeletesItOnceUnused() throws Exception {
        String base = "http://127.0.0.1:" + url.getPort();
        byte[] bytes = new byte[3 << 20];
        new Random(11).nextBytes(bytes);
        file = Files.createTempFile("hv-library-", ".img");
        Files.write(file, bytes);
        String sha256 = HexFormat.of().formatHex(sha256(bytes));

        browser = Browser.chromium(1280, 900);
        browser.get(base + "/admin/library");
        Browser.signIn(browser, "admin", base + "/admin/library");
        assertThat(browser.findElement(By.cssSelector("nav [aria-current=page]")).getText()).isEqualTo("Library");

        // The form takes its name and kind from the file; tus-js-client sends it and the import follows.
        browser.findElement(By.cssSelector("#upload-form input[type=file]")).sendKeys(file.toAbsolutePath().toString());
        assertThat(field("name").getAttribute("value")).isEqualTo(file.getFileName().toString());
        assertThat(new Select(browser.findElement(By.cssSelector("#upload-form select[name=kind]")))
                .getFirstSelectedOption().getAttribute("value")).isEqualTo("disk");
        field("name").clear();
        field("name").sendKeys(IMAGE);
        new Select(browser.findElement(By.cssSelector("#upload-form select[name=visibility]"))).selectByValue("everyone");
        field("sha256").sendKeys(sha256);
        browser.findElement(By.cssSelector("#upload-form button[type=submit]")).click();
        await("the progress at 100 %", () -> text("[data-progress-text]").equals("3.0 MiB of 3.0 MiB (100 %)"));
        await("word that the import is done", () -> text("[data-status]").equals("Added " + IMAGE + " to the library."));
        await("the new item in the table", () -> row(IMAGE) != null);
        assertThat(Browser.fresh(() -> row(IMAGE).getText())).contains("disk").contains("raw").contains("3.0 MiB")
                .contains("admin").contains("everyone");
        assertThat(Number.class.cast(browser.executeScript("return document.querySelector('.upload-progress progress').value;"))
                .intValue()).isEqualTo(100);
        assertThat(browser.executeScript("return Object.keys(localStorage).filter(k => k.startsWith('tus::')).length;"))
                .as("a finished upload is forgotten by the browser").isEqualTo(0L);
        Browser.screenshot(browser, "library.png");
        assertAccessible("the library page");

        Browser.fresh(() -> {
            row(IMAGE).findElement(By.cssSelector("a.item-link")).click();
            return null;
        });
        await("the item's details", () -> text("#item").contains(sha256));
        String item = browser.findElement(By.cssSelector("#item [data-item-id]")).getAttribute("data-item-id");
        assertThat(browser.getCurrentUrl()).endsWith("/admin/library?item=" + item);
        assertThat(text("#item")).contains("No VM uses it.");

        // The wizard offers the image; a linked clone of it is made.
        browser.get(base + "/admin");
        button("New virtual machine").click();
        await("the new-VM wizard", () -> browser.findElement(By.id("dialog")).isDisplayed());
        new Select(browser.findElement(By.cssSelector("#dialog select[name=source]"))).selectByValue("library-disk");
        assertThat(browser.findElement(By.cssSelector("#dialog select[name=template]")).isDisplayed()).isFalse();
        new Select(browser.findElement(By.cssSelector("#dialog select[name=libraryDisk]"))).selectByValue(item);
        browser.findElement(By.cssSelector("#dialog input[name=name]")).sendKeys(VM);
        Browser.screenshot(browser, "new-vm-from-library.png");
        browser.findElement(By.cssSelector("#dialog [data-next]")).click();
        browser.findElement(By.cssSelector("#dialog input[name=memoryMib]")).sendKeys("64");
        new Select(browser.findElement(By.cssSelector("#dialog select[name=firmware]"))).selectByValue("uefi");
        browser.findElement(By.cssSelector("#dialog [data-next]")).click();
        assertThat(browser.findElement(By.cssSelector("#dialog [data-summary]")).getText())
                .contains("Start from").contains("a disk image from the library").contains(IMAGE).contains("UEFI")
                .doesNotContain("Template");
        browser.findElement(By.cssSelector("#dialog input[name=start]")).click();
        button("Check").click();
        await("the check's answer", () -> browser.findElement(By.id("check-result")).getText().contains("would be accepted"));
        Browser.screenshot(browser, "new-vm-from-library-review.png");
        assertAccessible("the wizard from the library");
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
        await("word that the VM was created", () -> browser.findElement(By.id("toast")).getText().contains("Created '" + VM + "'"));

        // While the VM uses it, the item stays, and the page says why.
        browser.get(base + "/admin/library?item=" + item);
        await("the VM among the item's users", () -> text("#item").contains(VM));
        button("Delete").click();
        browser.switchTo().alert().accept();
        await("the refusal, in the item's details", () -> text("#item .form-error").contains("is used by")
                && text("#item .form-error").contains("VM '" + VM + "'"));
        Browser.screenshot(browser, "library-delete-refused.png");

        String vm = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("name", VM)).getFirst().id;
        vms.delete(Caller.host(), vm);
        browser.navigate().refresh();
        await("the item unused", () -> text("#item").contains("No VM uses it."));
        button("Delete").click();
        browser.switchTo().alert().accept();
        await("the item gone from the table", () -> row(IMAGE) == null);
        assertThat(browser.findElement(By.id("toast")).getText()).contains("Deleted '" + IMAGE + "' from the library");
        as("admin").when().get("/api/v1/library/" + item).then().statusCode(404);
    }

    private WebElement field(String name) {
        return browser.findElement(By.cssSelector("#upload-form [name=" + name + "]"));
    }

    private String text(String css) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector(css)).getText());
    }

    private WebElement row(String name) {
        return browser.findElements(By.cssSelector("tr.item-row")).stream()
                .filter(r -> r.findElement(By.cssSelector("a.item-link")).getText().equals(name))
                .findFirst().orElse(null);
    }

    private WebElement button(String label) {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("button")).stream()
                .filter(b -> b.isDisplayed() && b.getText().startsWith(label)).findFirst()
                .orElseThrow(() -> new AssertionError("no button '" + label + "' on " + browser.getCurrentUrl())));
    }

    private void assertAccessible(String what) {
        assertThat(Browser.accessibilityViolations(browser)).as("accessibility of " + what).isEmpty();
    }

    private void await(String what, java.util.function.BooleanSupplier condition) {
        Browser.await(browser, what, Duration.ofSeconds(60), condition);
    }

    private static byte[] sha256(byte[] bytes) throws NoSuchAlgorithmException {
        return MessageDigest.getInstance("SHA-256").digest(bytes);
    }
}
