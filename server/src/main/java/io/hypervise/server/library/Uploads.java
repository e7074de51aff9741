package io.hypervise.server.library;

import io.hypervise.engine.Engine;
import io.hypervise.server.access.AccessDeniedException;
import io.hypervise.server.access.Caller;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.NotFoundRefusal;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.policy.SelfServicePolicies;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * Resumable uploads into the library, the server side of the tus protocol (https://tus.io/protocols/resumable-upload):
 * an upload is created with its length (and counted against the quota at once), its bytes are appended
 * from the offset the server has, in as many requests as the connection needs, straight to a part file
 * (never held in memory), and when the last byte arrives it is imported by a job. The part file's length
 * is the offset: after a dropped connection or a server crash, the upload resumes from what is on disk.
 * An upload nobody adds to for {@code hypervise.library.upload-expiry} is abandoned and removed.
 */
@ApplicationScoped
public class Uploads {

    private static final Logger LOG = Logger.getLogger(Uploads.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String AUDIT_ACTION = "library.upload";

    @Inject
    Engine engine;

    @Inject
    Library library;

    @Inject
    LibraryImport importer;

    @Inject
    Jobs jobs;

    @Inject
    AuditLog audit;

    @Inject
    LocalHost localHost;

    @Inject
    SelfServicePolicies policies;

    @Inject
    ServerConfig config;

    /** The uploads a request is writing right now: one writer per upload. */
    private final Set<String> writing = ConcurrentHashMap.newKeySet();
    private ScheduledExecutorService sweeper;

    /** What a client sends to start an upload (tus: Upload-Length and Upload-Metadata). */
    public record NewUpload(long length, String name, String description, String kind, String format, String sha256,
            String visibility, List<String> groups) {
    }

    /**
     * At start: part files without an upload are removed; uploads whose import the server's death
     * interrupted are imported again (all their bytes are there); then abandoned uploads are swept
     * periodically.
     */
    void onStart(@Observes @Priority(25) StartupEvent event) {
        try {
            Files.createDirectories(folder());
            Set<String> known = QuarkusTransaction.requiringNew().call(() -> LibraryUploadEntity.<LibraryUploadEntity>list("hostId", localHost.id())
                    .stream().map(u -> u.id).collect(Collectors.toSet()));
            try (Stream<Path> parts = Files.list(folder())) {
                for (Path part : parts.toList()) {
                    String name = part.getFileName().toString();
                    if (!name.endsWith(".part") || !known.contains(name.substring(0, name.length() - 5))) {
                        Files.deleteIfExists(part);
                        LOG.infof("removed %s: no upload of host %s is writing it", part, localHost.id());
                    }
                }
            }
        } catch (IOException e) {
            LOG.warnf("could not tidy the library's upload folder: %s", e.getMessage());
        }
        library.removeOrphans();
        List<LibraryUploadEntity> interrupted = QuarkusTransaction.requiringNew().call(() -> LibraryUploadEntity.list(
                "hostId = ?1 and state = ?2", localHost.id(), LibraryUploadEntity.State.IMPORTING));
        for (LibraryUploadEntity u : interrupted) {
            LOG.infof("upload %s (%s) was being imported when the server stopped; importing it again", u.id, u.name);
            startImport(u, Caller.host());
        }
        long period = Math.max(1, config.library().uploadSweep().toSeconds());
        sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("upload-sweeper").factory());
        sweeper.scheduleWithFixedDelay(this::sweepQuietly, period, period, TimeUnit.SECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
    }

    /** Creates an upload; refused (413) if it would not fit the caller's library quota or the host's free space. */
    public UploadView create(Caller caller, NewUpload request) {
        List<FieldError> v = new java.util.ArrayList<>();
        if (request.length() <= 0) {
            v.add(new FieldError("Upload-Length", "is required: the file's length in bytes, more than 0"));
        }
        ItemSpec spec = library.spec(caller, request.name(), request.description(), request.kind(), request.format(),
                request.sha256(), request.visibility(), request.groups(), v);
        if (!v.isEmpty()) {
            throw new InvalidRequestException("library upload", v);
        }
        LibraryUploadEntity u = new LibraryUploadEntity();
        u.id = newId();
        u.itemId = Library.newItemId();
        u.hostId = localHost.id();
        u.owner = caller.username();
        u.name = spec.name();
        u.description = spec.description() == null ? "" : spec.description();
        u.kind = spec.kind();
        u.declaredFormat = spec.declared();
        u.expectedSha256 = spec.expectedSha256();
        u.visibility = spec.visibility();
        u.groups = spec.groups();
        u.length = request.length();
        u.state = LibraryUploadEntity.State.RECEIVING;
        u.createdAt = Instant.now();
        u.touchedAt = u.createdAt;
        QuarkusTransaction.requiringNew().run(() -> {
            // Held until commit: two uploads at once cannot both fit in the room left for one.
            policies.lockQuota(caller.username());
            library.checkSpace(caller, u.length, null);
            u.persist();
            audit.record(caller, AUDIT_ACTION, Library.target(u.itemId), parameters(u), AuditOutcome.REQUESTED, null);
        });
        try {
            Files.createDirectories(folder());
            Files.createFile(partOf(u.id));
        } catch (IOException e) {
            abandon(u.id, Caller.host(), "its part file could not be created: " + e.getMessage());
            throw new IllegalStateException("cannot start the upload: " + e.getMessage(), e);
        }
        LOG.infof("upload %s of '%s' (%d bytes) started by %s on host %s", u.id, u.name, u.length, caller.username(), localHost.id());
        return view(u, 0);
    }

    /** The upload, as its owner (or whoever manages the whole library) sees it; 404 for anyone else. */
    public UploadView view(Caller caller, String id) {
        LibraryUploadEntity u = find(caller, id);
        return view(u, offsetOf(u));
    }

    /**
     * Appends what {@code body} brings at {@code offset}, which must be where the upload stands (409
     * otherwise, with where it stands); returns the new offset. A connection that drops keeps what
     * arrived. When the last byte arrives, the import job starts.
     */
    public Appended append(Caller caller, String id, long offset, InputStream body) throws IOException {
        LibraryUploadEntity u = find(caller, id);
        if (!writing.add(id)) {
            throw new UploadConflictException("another request is sending bytes of upload " + id + " right now", offsetOf(u));
        }
        try {
            if (u.state != LibraryUploadEntity.State.RECEIVING) {
                throw new UploadConflictException("upload " + id + " has all its bytes and is being imported", u.length);
            }
            long have = offsetOf(u);
            if (offset != have) {
                throw new UploadConflictException("upload " + id + " stands at byte " + have + ", not at " + offset
                        + "; send from there (HEAD tells where an upload stands)", have);
            }
            long now = receive(u, have, body);
            touch(id);
            if (now < u.length) {
                return new Appended(now, null);
            }
            return new Appended(now, startImport(u, caller));
        } finally {
            writing.remove(id);
        }
    }

    /** How far an upload got, and the import job once it is complete. */
    public record Appended(long offset, JobView job) {
    }

    /** Copies the body to the end of the part file in 1 MiB steps; never more than the upload's length. */
    private long receive(LibraryUploadEntity u, long offset, InputStream body) throws IOException {
        Path part = partOf(u.id);
        long written = offset;
        byte[] buffer = new byte[1 << 20];
        try (FileChannel out = FileChannel.open(part, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            int n;
            try {
                while ((n = body.read(buffer)) > 0) {
                    if (written + n > u.length) {
                        throw new InvalidRequestException("library upload", List.of(new FieldError("body",
                                "runs past the upload's length of " + u.length + " bytes")));
                    }
                    ByteBuffer chunk = ByteBuffer.wrap(buffer, 0, n);
                    while (chunk.hasRemaining()) {
                        out.write(chunk);
                    }
                    written += n;
                }
            } catch (IOException dropped) {
                // The connection went away: what arrived is kept, and the client resumes from it.
                LOG.infof("upload %s: connection dropped at byte %d of %d (%s)", u.id, written, u.length, dropped.getMessage());
            }
            out.force(false);
        }
        return written;
    }

    private JobView startImport(LibraryUploadEntity u, Caller caller) {
        ItemSpec spec = new ItemSpec(u.owner, u.name, u.description, u.kind, u.declaredFormat, u.expectedSha256,
                u.visibility, u.groups);
        Path part = partOf(u.id);
        String target = Library.target(u.itemId);
        Map<String, Object> parameters = parameters(u);
        // Marked before the job can run: a quick import ends (and removes the row) at once. Bulk updates
        // throughout, so a row another thread has removed is changed by none, never a lost-update error.
        QuarkusTransaction.requiringNew().run(() -> LibraryUploadEntity.update("state = ?1 where id = ?2",
                LibraryUploadEntity.State.IMPORTING, u.id));
        JobView job = jobs.submit("library-import", target, u.owner,
                progress -> importer.run(u.itemId, part, true, spec, progress,
                        item -> LibraryUploadEntity.deleteById(u.id)),
                error -> {
                    if (error != null) {
                        discard(u.id);
                    }
                    audit.recordOutcome(caller, AUDIT_ACTION, target, parameters, error);
                });
        QuarkusTransaction.requiringNew().run(() -> LibraryUploadEntity.update("jobId = ?1 where id = ?2",
                java.util.UUID.fromString(job.id()), u.id));
        return job;
    }

    /** Ends an upload its owner gives up on (tus termination): its bytes are removed. */
    public void terminate(Caller caller, String id) {
        LibraryUploadEntity u = find(caller, id);
        if (u.state == LibraryUploadEntity.State.IMPORTING) {
            throw new UploadConflictException("upload " + id + " has all its bytes and is being imported", u.length);
        }
        abandon(id, caller, "cancelled by " + caller.username());
    }

    /** Removes uploads nobody has added to within the expiry; returns how many. */
    public int sweep() {
        Instant before = Instant.now().minus(config.library().uploadExpiry());
        List<LibraryUploadEntity> stale = QuarkusTransaction.requiringNew().call(() -> LibraryUploadEntity.list(
                "hostId = ?1 and state = ?2 and touchedAt < ?3", localHost.id(), LibraryUploadEntity.State.RECEIVING, before));
        int removed = 0;
        for (LibraryUploadEntity u : stale) {
            if (writing.contains(u.id)) {
                continue;
            }
            abandon(u.id, Caller.host(), "abandoned: nothing was added to it for " + config.library().uploadExpiry());
            removed++;
        }
        return removed;
    }

    private void sweepQuietly() {
        try {
            int removed = sweep();
            if (removed > 0) {
                LOG.infof("removed %d abandoned upload(s) on host %s", removed, localHost.id());
            }
        } catch (RuntimeException e) {
            LOG.warnf("could not sweep abandoned uploads: %s", e.getMessage());
        }
    }

    /** Removes an upload still receiving (one whose import began, or that another request removed, is left be). */
    private void abandon(String id, Caller by, String why) {
        LibraryUploadEntity u = QuarkusTransaction.requiringNew().call(() -> {
            LibraryUploadEntity row = LibraryUploadEntity.findById(id);
            return row != null && LibraryUploadEntity.delete("id = ?1 and state = ?2", id, LibraryUploadEntity.State.RECEIVING) == 1
                    ? row : null;
        });
        if (u == null) {
            return;
        }
        discard(id);
        audit.recordOutcome(by, AUDIT_ACTION, Library.target(u.itemId), parameters(u), why);
        LOG.infof("upload %s of '%s' for %s removed on host %s: %s", id, u.name, u.owner, localHost.id(), why);
    }

    /** Removes an upload's row (if still there) and part file, after a failed import. */
    private void discard(String id) {
        QuarkusTransaction.requiringNew().run(() -> LibraryUploadEntity.deleteById(id));
        try {
            Files.deleteIfExists(partOf(id));
        } catch (IOException e) {
            LOG.warnf("could not remove the part file of upload %s: %s", id, e.getMessage());
        }
    }

    private LibraryUploadEntity find(Caller caller, String id) {
        LibraryUploadEntity u = id == null || !id.matches("up-[a-z0-9]{16,40}") ? null
                : QuarkusTransaction.requiringNew().call(() -> LibraryUploadEntity.<LibraryUploadEntity>findById(id));
        if (u == null || !LibraryAccessRule.canManage(caller, u.owner) && !caller.username().equals(u.owner)) {
            throw new NotFoundRefusal("no upload '" + id + "'");
        }
        if (!u.hostId.equals(localHost.id())) {
            throw new AccessDeniedException("upload " + id + " is being received by host " + u.hostId + "; send its bytes there");
        }
        return u;
    }

    private void touch(String id) {
        QuarkusTransaction.requiringNew().run(() -> LibraryUploadEntity.update("touchedAt = ?1 where id = ?2", Instant.now(), id));
    }

    private long offsetOf(LibraryUploadEntity u) {
        if (u.state == LibraryUploadEntity.State.IMPORTING) {
            return u.length;
        }
        try {
            return Files.size(partOf(u.id));
        } catch (IOException e) {
            return 0;
        }
    }

    private UploadView view(LibraryUploadEntity u, long offset) {
        return new UploadView(u.id, u.itemId, u.name, u.kind.id(), u.owner, offset, u.length,
                u.state.name().toLowerCase(java.util.Locale.ROOT), u.jobId == null ? null : u.jobId.toString(), u.createdAt,
                u.touchedAt.plus(config.library().uploadExpiry()));
    }

    private static Map<String, Object> parameters(LibraryUploadEntity u) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("upload", u.id);
        p.put("name", u.name);
        p.put("kind", u.kind.id());
        p.put("length", u.length);
        return p;
    }

    private Path folder() {
        return engine.storage().library().resolve("uploads");
    }

    private Path partOf(String id) {
        return folder().resolve(id + ".part");
    }

    private static String newId() {
        byte[] bytes = new byte[12];
        RANDOM.nextBytes(bytes);
        return "up-" + HexFormat.of().formatHex(bytes);
    }
}
