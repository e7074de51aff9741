package io.hypervise.bench.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.bench.api.Report.Measurement;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The REST API under load, side by side with the same work done straight against the same PostgreSQL
 * over JDBC (see bench/README.md): first VM creation, which also fills the database, at 1 and at 16
 * clients; then the VM list at many clients. The two sides take turns, round by round, so both see the
 * same machine. Run by {@code bin/hypervise bench api}, which starts Keycloak and cleans up after.
 */
public final class ApiBench {

    /** Creation is measured at these client counts: a tenth of the VMs at the first, the rest at the second. */
    private static final int[] CREATION_CLIENTS = {1, 16};
    private static final int ROUNDS = 3;
    /**
     * The most connections the server's pool opens: Quarkus' default quarkus.datasource.jdbc.max-size,
     * which the server keeps. The direct side takes what PostgreSQL has left beside it.
     */
    private static final int SERVER_POOL = 50;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A list both sides fetch: its path through the API (or the console's rows, {@code page}), and the
     * direct side's owner filter, start (a name and id: the page after that VM) and page size.
     */
    private record ListQuery(String title, String path, boolean page, Optional<String> owner,
            Optional<List<String>> after, int size) {

        static ListQuery api(String title, String path, Optional<String> owner) {
            return new ListQuery(title, path, false, owner, Optional.empty(), 50);
        }
    }

    private static final List<ListQuery> FIRST_PAGES = List.of(
            ListQuery.api("GET /api/v1/vms  (first page of 50 of all VMs, by name)", "/api/v1/vms", Optional.empty()),
            ListQuery.api("GET /api/v1/vms?owner=operator  (first page of operator's half)", "/api/v1/vms?owner=operator",
                    Optional.of("operator")));
    /** The admin console's VM list refreshes its rows (25 a page) with this request, every 10 s and on every change. */
    private static final ListQuery CONSOLE_ROWS = new ListQuery(
            "GET /ui/vms/rows  (the admin console's list: first 25 rows, as its live refresh fetches them)", "/ui/vms/rows",
            true, Optional.empty(), Optional.empty(), 25);
    /** Full listings page by this many (the API's largest page). */
    private static final int FULL_PAGE = 500;

    private final BenchServer server;
    private final Api api;
    private final Tokens tokens;
    private final DirectDatabase db;
    private final CpuMeter meter;
    private final Report report = new Report();
    private final String hostId;
    private final String kernelPath;
    /** Signed in to the console just before it is used (its session refreshes its tokens; a fresh one is surer). */
    private ConsolePages pages;
    private ServerMemory heapUnderLoad;

    private ApiBench(BenchServer server, Api api, Tokens tokens, DirectDatabase db, CpuMeter meter, String hostId)
            throws IOException {
        this.server = server;
        this.api = api;
        this.tokens = tokens;
        this.db = db;
        this.meter = meter;
        this.hostId = hostId;
        this.kernelPath = server.storageRoot().resolve(BenchVm.KERNEL).toRealPath().toString();
    }

    public static void main(String[] args) throws Exception {
        int vms = argument(args, 0, "vms", 10_000);
        int clients = argument(args, 1, "clients", 50);
        int seconds = argument(args, 2, "seconds", 30);
        Path dir = Path.of(property("hypervise.bench.dir"));
        Path jar = Path.of(property("hypervise.bench.server-jar"));
        String realmUrl = property("hypervise.bench.realm-url");

        Path data = dir.resolve("server");
        Files.createDirectories(data.resolve("storage"));
        Files.write(data.resolve("storage").resolve(BenchVm.KERNEL), new byte[4096]);
        System.out.println("starting the server over " + data);
        // HYPERVISE_BENCH_SERVER_OPTS: more JVM options for the server, e.g. a flight recording to profile it.
        List<String> serverOptions = List.of(System.getProperty("hypervise.bench.server-opts", "").strip().split("\\s+"))
                .stream().filter(o -> !o.isEmpty()).toList();
        try (BenchServer server = BenchServer.start(jar, data, realmUrl, serverOptions)) {
            Thread stopServer = Thread.ofPlatform().unstarted(server::close); // on Ctrl-C
            Runtime.getRuntime().addShutdownHook(stopServer);
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(10)).build();
            Tokens tokens = new Tokens(http, realmUrl);
            DirectDatabase db = new DirectDatabase(server.database());
            ApiBench bench = new ApiBench(server, new Api(http, server.baseUri(), tokens), tokens, db,
                    new CpuMeter(server.pid(), server.database().postmasterPid()), db.hostId());
            bench.run(vms, clients, seconds);
            Runtime.getRuntime().removeShutdownHook(stopServer);
        }
    }

    private void run(int vms, int clients, int seconds) throws Exception {
        report.line("Hypervise REST API under load: %d VMs, list at %d clients for %d s per side", vms, clients, seconds);
        report.line("machine: %s; %d cores, %.0f GiB; JDK %s (%s) for server and load generator; %s; PostgreSQL %s "
                        + "(the server's embedded one, also the direct side's)",
                cpuModel(), Runtime.getRuntime().availableProcessors(), totalMemoryGib(), Runtime.version(),
                System.getProperty("java.vendor"), quarkusVersion(), db.version());
        report.line("load before the run (1/5/15 min): %s", Files.readString(Path.of("/proc/loadavg")).strip());
        for (String user : BenchVm.OWNERS) {
            tokens.bearer(user);
        }
        db.createReferenceTables(DirectDatabase.CHAINED, true);
        db.createReferenceTables(DirectDatabase.UNCHAINED, false);
        creation(vms);
        ListQuery deep = deepPage(vms);
        List<ListQuery> lists = new ArrayList<>(FIRST_PAGES);
        lists.add(deep);
        lists.add(CONSOLE_ROWS);
        check(vms, lists);
        for (ListQuery q : lists) {
            list(q, clients, seconds);
        }
        fullListing(vms);
        floor(clients, seconds);
        memory(vms);
        report.line("");
        report.line("load after the run (1/5/15 min): %s", Files.readString(Path.of("/proc/loadavg")).strip());
        System.out.println();
        System.out.print(report.text());
    }

    // ---------------------------------------------------------------------------------------- creation

    /**
     * Creates the VMs through the API: a tenth untimed, to warm up (the JIT compiles the server's creation
     * path only after a few thousand requests), then a tenth of the rest at 1 client and the others at 16.
     * The direct side inserts the same rows, chained as the server chains them and not chained.
     */
    private void creation(int vms) throws Exception {
        int warm = Math.max(CREATION_CLIENTS[1], vms / 10);
        int atFirst = (vms - warm) / 10;
        int[] counts = {atFirst, vms - warm - atFirst};
        System.out.printf("creation: warming up with %d VMs%n", warm);
        create(0, warm, CREATION_CLIENTS[1], 1);
        report.line("");
        report.line("VM creation: POST /api/v1/vms, intent first: the VM's row (marked CREATING), its NIC and the request's");
        report.line("  hash-chained audit entry in one transaction; the engine defines it; the mark cleared and the outcome's entry");
        report.line("  in a second. (%d VMs created untimed first to warm up; the direct side writes the same rows in the same two",
                warm);
        report.line("  transactions into copies of the tables)");
        report.header();
        int next = warm;
        for (int level = 0; level < CREATION_CLIENTS.length; level++) {
            Measurement[] sides = create(next, counts[level], CREATION_CLIENTS[level], ROUNDS);
            next += counts[level];
            int c = CREATION_CLIENTS[level];
            report.row("API", c, sides[0]);
            report.row("direct, same 2 transactions, chained", c, sides[1]);
            report.row("direct, same 2 transactions, not chained", c, sides[2]);
            report.ratio("ratio API / direct chained", sides[0], sides[1]);
            report.line("  %-52s API %.1f, direct chained %.1f, not chained %.1f", "sessions waiting for the audit lock (mean)",
                    sides[0].lockWaiters(), sides[1].lockWaiters(), sides[2].lockWaiters());
        }
    }

    /** VMs number {@code first} to {@code first + count - 1} through each side, in rounds; the three sides' measurements. */
    private Measurement[] create(int first, int count, int clients, int rounds) throws Exception {
        Measurement[] sides = {Measurement.NONE, Measurement.NONE, Measurement.NONE};
        int done = 0;
        for (int r = 0; r < rounds; r++) {
            int n = (count - done) / (rounds - r);
            int base = first + done;
            tokens.renewAll(Duration.ofMinutes(4));
            Measurement a = measureWithLockWaits(
                    () -> ClosedLoop.forCount(clients, n, (client, i) -> api.create(new BenchVm(base + (int) i))));
            Measurement b = directCreate(clients, n, base, DirectDatabase.CHAINED, true);
            Measurement c = directCreate(clients, n, base, DirectDatabase.UNCHAINED, false);
            System.out.printf("creation at %2d clients, round %d/%d: API %.1f/s, direct chained %.1f/s, not chained %.1f/s%n",
                    clients, r + 1, rounds, a.run().perSecond(), b.run().perSecond(), c.run().perSecond());
            for (Measurement m : List.of(a, b, c)) {
                if (m.run().errors() > 0) { // said now: a run that fails later would lose the report
                    System.out.printf("  %d failed, the first: %s%n", m.run().errors(), m.run().firstError());
                }
            }
            sides = new Measurement[] {sides[0].plus(a), sides[1].plus(b), sides[2].plus(c)};
            done += n;
        }
        return sides;
    }

    private Measurement directCreate(int clients, int n, int base, String schema, boolean chained) throws Exception {
        List<Connection> connections = db.connect(clients);
        try {
            return measureWithLockWaits(() -> ClosedLoop.forCount(clients, n, (client, i) -> db.create(connections.get(client),
                    schema, chained, new BenchVm(base + (int) i), hostId, kernelPath)));
        } finally {
            DirectDatabase.close(connections);
        }
    }

    // -------------------------------------------------------------------------------------------- list

    /**
     * The page nine tenths of the way down the list, asked for as the API's clients page (keyset: after the
     * last VM of the page before, from that page's {@code next}). The page before is found once, by number.
     */
    private ListQuery deepPage(int vms) throws Exception {
        int before = vms * 9 / 10 / 50 - 1;
        JsonNode page = JSON.readTree(api.getText("/api/v1/vms?page=" + before, "admin"));
        JsonNode items = page.path("items");
        JsonNode last = items.get(items.size() - 1);
        String next = page.path("next").asText();
        return new ListQuery("GET /api/v1/vms?after=…  (50 VMs from the " + (before + 1) * 50 + "th: deep, by keyset)",
                "/api/v1/vms?after=" + next, false, Optional.empty(),
                Optional.of(List.of(last.path("name").asText(), last.path("id").asText())), 50);
    }

    /** Both sides must see the same VMs before their speeds are compared. */
    private void check(int vms, List<ListQuery> lists) throws Exception {
        pages = ConsolePages.signIn(server.baseUri(), "admin");
        try (Connection c = db.connect()) {
            for (ListQuery q : lists) {
                DirectDatabase.ListPage direct = db.list(c, q.owner(), q.after(), q.size());
                List<String> directNames = direct.rows().stream().map(DirectDatabase.VmRow::name).toList();
                if (q.page()) {
                    List<String> shown = pageNames(pages.get(q.path()));
                    if (!shown.equals(directNames) || !pages.get(q.path()).contains(direct.total() + "")) {
                        throw new IllegalStateException(q.path() + ": the console's rows and the direct query disagree: "
                                + shown + " vs " + directNames + " of " + direct.total());
                    }
                    continue;
                }
                JsonNode page = JSON.readTree(api.getText(q.path(), "admin"));
                List<String> apiNames = page.path("items").findValuesAsText("name");
                if (page.path("total").asLong() != direct.total() || !apiNames.equals(directNames)) {
                    throw new IllegalStateException(q.path() + ": the API and the direct query disagree: total "
                            + page.path("total") + " vs " + direct.total() + ", names " + apiNames + " vs " + directNames);
                }
                if (q.owner().isEmpty() && direct.total() != vms) {
                    throw new IllegalStateException("the inventory holds " + direct.total() + " VMs, not " + vms
                            + " (see the errors above)");
                }
            }
        }
    }

    /** The bench VMs' names in a page of the console, in order, each once. */
    private static List<String> pageNames(String html) {
        Matcher m = Pattern.compile("bench-\\d{5}").matcher(html);
        List<String> names = new ArrayList<>();
        while (m.find()) {
            if (!names.contains(m.group())) {
                names.add(m.group());
            }
        }
        return names;
    }

    private void list(ListQuery q, int clients, int seconds) throws Exception {
        int connections = Math.min(clients, db.spareConnections(SERVER_POOL));
        if (q.page()) {
            pages = ConsolePages.signIn(server.baseUri(), "admin");
        }
        try (DirectDatabase.Pool pool = new DirectDatabase.Pool(db.connect(connections))) {
            ClosedLoop.Operation viaApi = q.page() ? (client, n) -> pages.get(q.path())
                    : (client, n) -> api.get(q.path(), "admin");
            ClosedLoop.Operation direct = (client, n) -> pool.with(c -> db.list(c, q.owner(), q.after(), q.size()));
            Measurement[] sides = alternate(clients, seconds, q.title(), viaApi, direct);
            report.line("");
            report.line("%s, %d clients, %d rounds of %d s per side, alternating", q.title(), clients, ROUNDS, seconds / ROUNDS);
            report.header();
            report.row(q.page() ? "console (admin's session)" : "API (as admin)", clients, sides[0]);
            report.row("direct JDBC, same statement, " + connections + " connections", clients, sides[1]);
            report.ratio("ratio API / direct", sides[0], sides[1]);
            if (q.equals(FIRST_PAGES.getFirst())) {
                heapUnderLoad = ServerMemory.of(server.pid());
            }
        }
    }

    /**
     * Every VM, by one client paging through the list {@value #FULL_PAGE} at a time by keyset, as a
     * script would: the API against the same statements over a direct connection, 3 rounds each.
     */
    private void fullListing(int vms) throws Exception {
        List<Double> apiSeconds = new ArrayList<>();
        List<Double> apiServerCpu = new ArrayList<>();
        List<Double> directSeconds = new ArrayList<>();
        tokens.renewAll(Duration.ofMinutes(4));
        walkApi(vms); // warm-up
        try (Connection c = db.connect()) {
            walkDirect(c, vms);
            for (int r = 0; r < ROUNDS; r++) {
                CpuMeter.Sample before = meter.sample();
                long start = System.nanoTime();
                walkApi(vms);
                apiSeconds.add((System.nanoTime() - start) / 1e9);
                apiServerCpu.add(meter.sample().server() - before.server());
                start = System.nanoTime();
                walkDirect(c, vms);
                directSeconds.add((System.nanoTime() - start) / 1e9);
            }
        }
        report.line("");
        report.line("Full listing: all %d VMs by one client, %d a page by keyset (after=next), %d rounds per side",
                vms, FULL_PAGE, ROUNDS);
        report.line("  %-44s %s", "API, wall seconds per listing (each round)", seconds(apiSeconds));
        report.line("  %-44s %s", "API, server CPU seconds per listing", seconds(apiServerCpu));
        report.line("  %-44s %s", "direct JDBC, wall seconds per listing", seconds(directSeconds));
        report.line("  %-44s %.3f", "ratio API / direct (medians)", median(apiSeconds) / median(directSeconds));
    }

    private void walkApi(int vms) throws Exception {
        String path = "/api/v1/vms?size=" + FULL_PAGE;
        int seen = 0;
        while (true) {
            JsonNode page = JSON.readTree(api.getText(path, "admin"));
            seen += page.path("items").size();
            if (page.path("next").isNull() || page.path("next").isMissingNode()) {
                break;
            }
            path = "/api/v1/vms?size=" + FULL_PAGE + "&after=" + page.path("next").asText();
        }
        if (seen != vms) {
            throw new IllegalStateException("the API's full listing held " + seen + " VMs, not " + vms);
        }
    }

    private void walkDirect(Connection c, int vms) throws Exception {
        Optional<List<String>> after = Optional.empty();
        int seen = 0;
        while (true) {
            DirectDatabase.ListPage page = db.list(c, Optional.empty(), after, FULL_PAGE);
            seen += page.rows().size();
            if (page.rows().size() < FULL_PAGE) {
                break;
            }
            DirectDatabase.VmRow last = page.rows().getLast();
            after = Optional.of(List.of(last.name(), last.id()));
        }
        if (seen != vms) {
            throw new IllegalStateException("the direct full listing held " + seen + " VMs, not " + vms);
        }
    }

    private static String seconds(List<Double> values) {
        return values.stream().map(v -> String.format(java.util.Locale.ROOT, "%.3f", v))
                .collect(java.util.stream.Collectors.joining(", ")) + String.format(java.util.Locale.ROOT, "  (median %.3f)",
                median(values));
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    /** The server's memory with every VM defined: under the list load, and live after a full collection. */
    private void memory(int vms) throws Exception {
        ServerMemory idle = ServerMemory.afterFullCollection(server.pid());
        report.line("");
        report.line("Server memory with %d VMs defined", vms);
        report.line("  %-44s %s", "during the first list at 50 clients", heapUnderLoad);
        report.line("  %-44s %s", "after the runs, after a full collection", idle);
    }

    /** What every API request costs without the database: HTTP, the token check, the permission filter, JSON. */
    private void floor(int clients, int seconds) throws Exception {
        Measurement[] sides = alternate(clients, seconds, "GET /api/v1/me", (client, n) -> api.get("/api/v1/me", "admin"), null);
        report.line("");
        report.line("GET /api/v1/me  (no database: HTTP, token check, JSON; the floor under every API request)");
        report.header();
        report.row("API (as admin)", clients, sides[0]);
    }

    /** A warm-up of each side, then rounds in which each side runs for its share of the time. */
    private Measurement[] alternate(int clients, int seconds, String title, ClosedLoop.Operation first,
            ClosedLoop.Operation second) throws Exception {
        Duration warmUp = Duration.ofSeconds(Math.max(1, Math.min(5, seconds / ROUNDS)));
        Duration share = Duration.ofMillis(seconds * 1000L / ROUNDS);
        tokens.renewAll(Duration.ofMinutes(4));
        ClosedLoop.forDuration(clients, warmUp, first);
        if (second != null) {
            ClosedLoop.forDuration(clients, warmUp, second);
        }
        Measurement[] sides = {Measurement.NONE, Measurement.NONE};
        for (int r = 0; r < ROUNDS; r++) {
            tokens.renewAll(share.plusMinutes(1));
            Measurement a = measure(() -> ClosedLoop.forDuration(clients, share, first));
            sides[0] = sides[0].plus(a);
            String line = String.format("%s, round %d/%d: API %.0f/s p50 %.2f ms", title, r + 1, ROUNDS,
                    a.run().perSecond(), a.run().percentileMillis(0.5));
            if (second != null) {
                Measurement b = measure(() -> ClosedLoop.forDuration(clients, share, second));
                sides[1] = sides[1].plus(b);
                line += String.format(", direct %.0f/s p50 %.2f ms", b.run().perSecond(), b.run().percentileMillis(0.5));
            }
            System.out.println(line);
        }
        return sides;
    }

    private Measurement measure(Callable<ClosedLoop.Run> work) throws Exception {
        CpuMeter.Sample before = meter.sample();
        ClosedLoop.Run run = work.call();
        CpuMeter.Sample after = meter.sample();
        return new Measurement(run, CpuMeter.between(before, after), Double.NaN);
    }

    private Measurement measureWithLockWaits(Callable<ClosedLoop.Run> work) throws Exception {
        LockWaits waits = LockWaits.start(db);
        Measurement m = measure(work);
        return new Measurement(m.run(), m.cpu(), waits.stop());
    }

    // ----------------------------------------------------------------------------------- machine facts

    private static String cpuModel() throws IOException {
        return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("unknown CPU");
    }

    private static double totalMemoryGib() {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        return os.getTotalMemorySize() / (1024.0 * 1024 * 1024);
    }

    private String quarkusVersion() throws IOException {
        Matcher m = Pattern.compile("powered by (Quarkus [^)]+)").matcher(Files.readString(server.log()));
        return m.find() ? m.group(1) : "Quarkus";
    }

    private static int argument(String[] args, int index, String name, int fallback) {
        if (args.length <= index) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(args[index]);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new IllegalArgumentException(name + ": must be a positive whole number; got '" + args[index] + "'");
    }

    private static String property(String name) {
        String value = System.getProperty(name);
        if (value == null) {
            throw new IllegalStateException("-D" + name + " is required; run this through bin/hypervise bench api");
        }
        return value;
    }
}
