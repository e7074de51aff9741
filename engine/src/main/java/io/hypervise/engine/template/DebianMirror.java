package io.hypervise.engine.template;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.tukaani.xz.XZInputStream;

/**
 * Debian packages of an architecture the host's apt is not set up for (i386 on an amd64 host), fetched
 * straight from the Debian repositories the host's apt uses, so that its configuration never changes (no
 * {@code dpkg --add-architecture}, no second package cache for apt to get confused by). Every file is
 * checked before it is used, as apt would: the suite's InRelease by {@code gpgv} against Debian's archive
 * keyring, the architecture's Packages.xz against the SHA256 the signed InRelease gives for it, each .deb
 * against the SHA256 that Packages gives for it. The checked lists are kept in the download cache
 * ({@code lists-ARCH/}) as apt keeps its own, and fetched again when they no longer serve.
 * Repository layout: https://wiki.debian.org/DebianRepository/Format
 */
final class DebianMirror implements PackageSource {

    static final Path KEYRING = Path.of("/usr/share/keyrings/debian-archive-keyring.gpg");
    private static final String COMPONENT = "main";
    private static final Duration QUICK_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration DOWNLOAD_TIMEOUT = Duration.ofMinutes(20);
    // Temporary files start private (rw-------); what they become is public data, readable like apt's.
    private static final Set<PosixFilePermission> READABLE = PosixFilePermissions.fromString("rw-r--r--");

    /** One suite of a Debian repository as the host's apt names it, e.g. http://deb.debian.org/debian/ bookworm. */
    record Repository(URI base, String suite) {

        URI file(String path) {
            return base.resolve("dists/" + suite + "/" + path);
        }

        /** Its lists' file-name prefix in the cache, as apt names its own (deb.debian.org_debian_bookworm). */
        String cacheName() {
            return (base.getHost() + base.getPath() + "_" + suite).replaceAll("[^A-Za-z0-9.+-]+", "_");
        }

        @Override
        public String toString() {
            return base + " " + suite;
        }
    }

    /** Where a package version can be fetched, and how long it is. */
    private record Offer(DebianPackages.Package pkg, URI deb, long size) {}

    private final String architecture;
    private final Path downloadCache;
    private final Path lists;
    private final Consumer<String> progress;
    private final HttpClient http;
    private final Map<DebianPackages.Package, Offer> offered = new HashMap<>();
    private Map<Repository, Path> packageLists; // the checked Packages.xz of each repository, found on first use

    DebianMirror(String architecture, Path downloadCache, Consumer<String> progress) {
        this.architecture = architecture;
        this.downloadCache = downloadCache;
        this.lists = downloadCache.resolve("lists-" + architecture);
        this.progress = progress;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(30))
                .proxy(ProxySelector.getDefault())
                .build();
    }

    /** The newest version of the package that the repositories offer for this architecture. */
    @Override
    public DebianPackages.Package candidate(String name) throws IOException {
        Offer best = null;
        for (Map.Entry<Repository, Path> list : packageLists().entrySet()) {
            for (Offer offer : offers(list.getKey(), list.getValue(), name)) {
                if (best == null || DebianPackages.newer(offer.pkg().version(), best.pkg().version())) {
                    best = offer;
                }
            }
        }
        if (best == null) {
            throw new StaleListsException("the " + architecture + " package lists of " + packageLists().keySet()
                    + " have no package " + name);
        }
        offered.put(best.pkg(), best);
        return best.pkg();
    }

    @Override
    public Path download(DebianPackages.Package p) throws IOException {
        Optional<Path> cached = DebianPackages.cached(downloadCache, p);
        if (cached.isPresent()) {
            progress.accept("using cached " + p.name() + " " + p.version() + " (" + p.architecture() + ")");
            return cached.get();
        }
        Offer offer = offered.get(p);
        if (offer == null) {
            throw new IllegalArgumentException(p.name() + " " + p.version() + " was not found by candidate() of this mirror");
        }
        progress.accept("downloading " + p.name() + " " + p.version() + " (" + p.architecture() + ") from " + offer.deb());
        // Into a private file first: an interrupted download must never look like a cached one.
        Path partial = Files.createTempFile(downloadCache, ".download-", ".deb");
        try {
            fetch(offer.deb(), partial, DOWNLOAD_TIMEOUT);
            if (Files.size(partial) != offer.size() || !DebianPackages.checksumMatches(p, partial)) {
                throw new IOException(offer.deb() + " does not have the size and SHA256 that the signed package lists give for it");
            }
            Path deb = downloadCache.resolve(p.debFileName());
            Files.setPosixFilePermissions(partial, READABLE); // as apt-get download leaves its files
            Files.move(partial, deb, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return deb;
        } finally {
            DebianPackages.deleteQuietly(partial);
        }
    }

    /** Forgets the cached lists; the next lookup fetches and checks them again. */
    @Override
    public void refresh() throws IOException {
        progress.accept("fetching the " + architecture + " package lists again (a package is missing, or the lists are stale)");
        packageLists = null;
        offered.clear();
        if (Files.isDirectory(lists)) {
            try (var files = Files.list(lists)) {
                files.forEach(DebianPackages::deleteQuietly);
            }
        }
    }

    @Override
    public void close() {
        http.close();
    }

    /** The Debian suites the host's apt fetches "main" from; the other architecture comes from the same places. */
    private List<Repository> repositories() throws IOException {
        String targets = DebianPackages.run(List.of("apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE)",
                "Identifier: Packages", "Origin: Debian", "Component: " + COMPONENT), null, QUICK_TIMEOUT);
        List<Repository> repositories = new ArrayList<>();
        for (String line : targets.lines().map(String::strip).distinct().toList()) {
            String[] parts = line.split(" ");
            if (parts.length == 2) {
                String base = parts[0].endsWith("/") ? parts[0] : parts[0] + "/";
                repositories.add(new Repository(URI.create(base), parts[1]));
            }
        }
        if (repositories.isEmpty()) {
            throw new StaleListsException("the host's apt fetches from no Debian repository ('apt-get indextargets' lists no"
                    + " Packages of component main with Origin: Debian); the " + architecture + " packages come from the"
                    + " same mirror: configure one, and run 'apt-get update' as root");
        }
        return repositories;
    }

    private Map<Repository, Path> packageLists() throws IOException {
        if (packageLists == null) {
            Map<Repository, Path> found = new LinkedHashMap<>();
            for (Repository repository : repositories()) {
                Optional<Path> cached = cachedPackages(repository);
                found.put(repository, cached.isPresent() ? cached.get() : fetchPackages(repository));
            }
            packageLists = found;
        }
        return packageLists;
    }

    private Path inReleaseFile(Repository r) {
        return lists.resolve(r.cacheName() + "_InRelease");
    }

    private String packagesPath() {
        return COMPONENT + "/binary-" + architecture + "/Packages.xz";
    }

    private Path packagesFile(Repository r) {
        return lists.resolve(r.cacheName() + "_" + packagesPath().replace('/', '_'));
    }

    /** The cached Packages.xz if it and its InRelease still check out (signature, expiry, SHA256). */
    private Optional<Path> cachedPackages(Repository r) throws IOException {
        Path inRelease = inReleaseFile(r);
        Path packages = packagesFile(r);
        if (!Files.isRegularFile(inRelease) || !Files.isRegularFile(packages)) {
            return Optional.empty();
        }
        try {
            IndexEntry entry = verifiedRelease(r, inRelease).entry(packagesPath());
            return entry.matches(packages) ? Optional.of(packages) : Optional.empty();
        } catch (IOException outdated) {
            return Optional.empty(); // expired or damaged: fetched again below, and checked again
        }
    }

    private Path fetchPackages(Repository r) throws IOException {
        progress.accept("fetching the " + architecture + " package lists of " + r);
        Files.createDirectories(lists);
        Path newRelease = Files.createTempFile(lists, ".InRelease-", "");
        Path newPackages = Files.createTempFile(lists, ".Packages-", ".xz");
        try {
            fetch(r.file("InRelease"), newRelease, QUICK_TIMEOUT);
            Release release = verifiedRelease(r, newRelease);
            IndexEntry entry = release.entry(packagesPath());
            // By hash when the repository offers it: a mirror updating meanwhile cannot hand us a newer file.
            URI uri = release.byHash()
                    ? r.file(COMPONENT + "/binary-" + architecture + "/by-hash/SHA256/" + entry.sha256())
                    : r.file(packagesPath());
            fetch(uri, newPackages, DOWNLOAD_TIMEOUT);
            if (!entry.matches(newPackages)) {
                throw new IOException(uri + " does not have the size and SHA256 that " + r + "'s signed InRelease gives for it");
            }
            Path packages = packagesFile(r);
            Files.setPosixFilePermissions(newPackages, READABLE);
            Files.setPosixFilePermissions(newRelease, READABLE);
            Files.move(newPackages, packages, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(newRelease, inReleaseFile(r), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return packages;
        } finally {
            DebianPackages.deleteQuietly(newRelease);
            DebianPackages.deleteQuietly(newPackages);
        }
    }

    /** A file an InRelease lists: its SHA256 and size. */
    private record IndexEntry(String path, String sha256, long size) {
        boolean matches(Path file) throws IOException {
            return Files.size(file) == size && DebianPackages.sha256(file).equalsIgnoreCase(sha256);
        }
    }

    /** The signed fields of an InRelease, only ever built from what gpgv has verified. */
    private record Release(Repository repository, Map<String, String> fields) {

        boolean byHash() {
            return "yes".equalsIgnoreCase(fields.getOrDefault("Acquire-By-Hash", "no"));
        }

        IndexEntry entry(String path) throws IOException {
            for (String line : fields.getOrDefault("SHA256", "").split("\n")) {
                String[] parts = line.strip().split("\\s+");
                if (parts.length == 3 && parts[2].equals(path)) {
                    return new IndexEntry(path, parts[0], Long.parseLong(parts[1]));
                }
            }
            throw new StaleListsException(repository + " lists no " + path + " (SHA256 section of its InRelease); does it"
                    + " offer that architecture? It offers " + fields.getOrDefault("Architectures", "none named"));
        }
    }

    /**
     * Checks the InRelease's signature with gpgv and returns the signed part only (text outside the
     * signature is never read), refusing a release of another suite or one past its Valid-Until.
     */
    private Release verifiedRelease(Repository r, Path inRelease) throws IOException {
        DebianPackages.Exit gpgv = DebianPackages.exec(List.of("gpgv", "--keyring", KEYRING.toString(), "--output", "-",
                inRelease.toString()), null, QUICK_TIMEOUT);
        if (gpgv.exit() != 0) {
            throw new IOException(r + ": its InRelease has no good signature by a key in " + KEYRING + gpgv.errorTail());
        }
        Map<String, String> fields = DebianPackages.firstRecord(gpgv.output());
        if (!r.suite().equals(fields.get("Codename")) && !r.suite().equals(fields.get("Suite"))) {
            throw new IOException(r + ": its InRelease is signed for suite " + fields.get("Suite") + " ("
                    + fields.get("Codename") + "), not " + r.suite());
        }
        String validUntil = fields.get("Valid-Until");
        if (validUntil != null && expired(validUntil)) {
            throw new StaleListsException(r + ": its InRelease was valid until " + validUntil);
        }
        return new Release(r, fields);
    }

    private static boolean expired(String date) throws IOException {
        try {
            // Debian writes RFC 2822 dates in "UTC", which java.time's RFC 1123 parser knows as "GMT".
            return ZonedDateTime.parse(date.replace(" UTC", " GMT"), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant()
                    .isBefore(Instant.now());
        } catch (DateTimeParseException e) {
            throw new IOException("an InRelease's Valid-Until is no date: " + date, e);
        }
    }

    /** The records of the package in one Packages.xz (there is one per suite, normally). */
    private static List<Offer> offers(Repository repository, Path packagesXz, String name) throws IOException {
        List<Offer> offers = new ArrayList<>();
        String wanted = "Package: " + name;
        try (InputStream file = Files.newInputStream(packagesXz);
                BufferedReader in = new BufferedReader(new InputStreamReader(new XZInputStream(file, -1),
                        StandardCharsets.UTF_8), 1 << 16)) {
            StringBuilder record = null;
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) {
                    if (record != null) {
                        offers.add(offer(repository, record.toString(), name));
                    }
                    record = null;
                } else if (line.equals(wanted)) {
                    record = new StringBuilder();
                }
                if (record != null) {
                    record.append(line).append('\n');
                }
            }
            if (record != null) {
                offers.add(offer(repository, record.toString(), name));
            }
        }
        return offers;
    }

    private static Offer offer(Repository repository, String record, String name) throws IOException {
        Map<String, String> fields = DebianPackages.firstRecord(record);
        String filename = fields.get("Filename");
        if (filename == null || fields.get("Version") == null || fields.get("SHA256") == null
                || fields.get("Size") == null || filename.contains("..")) {
            throw new IOException(repository + ": the record of " + name + " lacks Filename, Version, SHA256 or Size");
        }
        return new Offer(DebianPackages.parse(fields, name), repository.base().resolve(filename),
                Long.parseLong(fields.get("Size")));
    }

    private void fetch(URI uri, Path target, Duration timeout) throws IOException {
        HttpResponse<Path> response;
        try {
            response = http.send(HttpRequest.newBuilder(uri).timeout(timeout).GET().build(),
                    HttpResponse.BodyHandlers.ofFile(target));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching " + uri, e);
        } catch (IOException e) {
            throw new IOException("cannot fetch " + uri + ": " + e.getMessage(), e);
        }
        if (response.statusCode() == 404) {
            throw new StaleListsException(uri + " is not on the mirror (HTTP 404): its lists have moved on");
        }
        if (response.statusCode() != 200) {
            throw new IOException("fetching " + uri + " failed: HTTP " + response.statusCode());
        }
    }
}
