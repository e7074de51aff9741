package io.hypervise.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.agroal.api.AgroalDataSource;
import io.hypervise.engine.Engine;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.testing.Browser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URL;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;

/**
 * Placement in the admin console, in a real Chromium: the host tree grouped by host group with each host's
 * capacity, load, lease and maintenance; "Rate hosts" on a VM's page (a dialog) and in the new-VM wizard's review,
 * each host's rating and why.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class PlacementPagesTest {

    @TestHTTPResource("/")
    URL url;

    @Inject
    AgroalDataSource db;

    @Inject
    LocalHost localHost;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    private ChromeDriver browser;

    @AfterEach
    void closeTheBrowserAndRemoveTheOtherHosts() throws SQLException {
        if (browser != null) {
            browser.quit();
        }
        sql("DELETE FROM hosts WHERE id LIKE 'pp-%'");
    }

    @Test
    void anOperatorRatesHostsForAVmAndForANewOneAndSeesEachHostsCapacityInTheTree() throws Exception {
        ApiAccessTest.ensureIdleVm(engine, vms);
        TestPolicies.ensureStubTemplate(engine);
        host("pp-gpu-1", "gpu", "10 minutes", false);
        host("pp-resting", "gpu", "10 minutes", true);
        host("pp-gone", "default", "-5 minutes", false);
        String base = "http://127.0.0.1:" + url.getPort();
        browser = Browser.chromium(1280, 900);
        browser.get(base + "/admin");
        Browser.signIn(browser, "operator", base + "/admin");

        // The tree: hosts under their groups, each with its lease, maintenance, committed CPU and memory, storage.
        await("the host tree", () -> text(".tree").contains("pp-resting"));
        String tree = text(".tree");
        assertThat(tree.indexOf("gpu")).isLessThan(tree.indexOf("pp-gpu-1"));
        assertThat(treeItem("pp-resting")).contains("maintenance").contains("live");
        assertThat(treeItem("pp-gone")).contains("expired");
        assertThat(treeItem("pp-gpu-1")).contains("CPU 0/8 vCPU · load 1.5 cores").contains("memory 0 % of 16.0 GiB")
                .contains("storage 50.0 GiB free of 100.0 GiB");
        assertThat(treeItem(localHost.id())).contains("memory ").contains("storage ");
        Browser.screenshot(browser, "placement-host-tree.png");

        browser.get(base + "/admin/vms/idle");
        button("Rate hosts").click();
        await("the ratings dialog", () -> browser.findElement(By.id("dialog")).isDisplayed()
                && !browser.findElements(By.cssSelector("#dialog table.ratings")).isEmpty());
        assertThat(text("#dialog h2")).isEqualTo("Rate hosts for Idle VM");
        assertThat(row(localHost.id())).contains("cannot take it").contains("the VM is already there");
        assertThat(row("pp-gpu-1")).contains("stars").contains("% free after placing");
        assertThat(row("pp-resting")).contains("in maintenance mode");
        assertThat(row("pp-gone")).contains("host lease expired");
        List<String> order = browser.findElements(By.cssSelector("#dialog table.ratings tbody th")).stream()
                .map(WebElement::getText).toList();
        assertThat(order.getFirst()).isEqualTo("pp-gpu-1");
        Browser.screenshot(browser, "placement-rate-hosts-dialog.png");
        assertThat(Browser.accessibilityViolations(browser)).as("the ratings dialog's accessibility").isEmpty();
        browser.findElement(By.cssSelector("#dialog [data-close]")).click();
        await("the dialog to close", () -> !browser.findElement(By.id("dialog")).isDisplayed());

        // The wizard's review rates every host for the VM as the form describes it.
        browser.get(base + "/admin");
        button("New virtual machine").click();
        await("the new-VM wizard", () -> browser.findElement(By.id("dialog")).isDisplayed());
        new Select(browser.findElement(By.cssSelector("#dialog select[name=template]"))).selectByValue(TestPolicies.STUB);
        browser.findElement(By.cssSelector("#dialog [data-next]")).click();
        browser.findElement(By.cssSelector("#dialog input[name=memoryMib]")).sendKeys("512");
        browser.findElement(By.cssSelector("#dialog [data-next]")).click();
        button("Rate hosts").click();
        await("the wizard's ratings", () -> !browser.findElements(By.cssSelector("#rate-result table.ratings")).isEmpty());
        assertThat(text("#rate-result")).contains("1 vCPU, 512 MiB");
        assertThat(text("#rate-result")).contains("this server's host (" + localHost.id() + ")");
        String here = Browser.fresh(() -> browser.findElements(By.cssSelector("#rate-result tbody tr")).stream()
                .map(WebElement::getText).filter(t -> t.contains("(this server's)")).findFirst().orElseThrow());
        assertThat(here).contains("stars");
        Browser.screenshot(browser, "placement-new-vm-wizard-ratings.png");
    }

    private String treeItem(String host) {
        return Browser.fresh(() -> browser.findElements(By.cssSelector(".tree li[role=treeitem]")).stream()
                .map(WebElement::getText).filter(t -> t.startsWith(host) || t.startsWith(hostName(host))).findFirst()
                .orElseThrow(() -> new AssertionError("no host " + host + " in the tree: " + text(".tree"))));
    }

    private String hostName(String host) {
        return host.equals(localHost.id()) ? engine.host().hostname() : host;
    }

    private String row(String host) {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("#dialog table.ratings tbody tr")).stream()
                .map(WebElement::getText).filter(t -> t.startsWith(hostName(host))).findFirst()
                .orElseThrow(() -> new AssertionError("no rating of " + host + ": " + text("#dialog"))));
    }

    private String text(String css) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector(css)).getText());
    }

    private WebElement button(String label) {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("button")).stream()
                .filter(b -> b.isDisplayed() && b.getText().startsWith(label)).findFirst()
                .orElseThrow(() -> new AssertionError("no button '" + label + "' on " + browser.getCurrentUrl())));
    }

    private void await(String what, java.util.function.BooleanSupplier condition) {
        Browser.await(browser, what, Duration.ofSeconds(60), condition);
    }

    private void host(String id, String group, String in, boolean maintenance) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement("""
                INSERT INTO hosts (id, name, hostname, accelerator, cpus, memory_bytes, qemu_version, epoch, host_group,
                                   lease_expires_at, lease_renewed_at, address, maintenance, vm_memory_bytes,
                                   storage_bytes, storage_free_bytes, cpu_load_cores, facts_published_at)
                VALUES (?, ?, ?, 'KVM', 8, 18253611008, '7.2.0', 1, ?, clock_timestamp() + CAST(? AS interval),
                        clock_timestamp(), 'http://192.0.2.1:8080', ?, 17179869184, 107374182400, 53687091200, 1.5,
                        clock_timestamp())""")) {
            s.setString(1, id);
            s.setString(2, id);
            s.setString(3, id + ".example");
            s.setString(4, group);
            s.setString(5, in);
            s.setBoolean(6, maintenance);
            s.executeUpdate();
        }
    }

    private void sql(String sql) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.executeUpdate();
        }
    }
}
