package io.hypervise.server.console;

import io.hypervise.engine.Engine;
import io.hypervise.engine.display.VmDisplay;
import io.hypervise.engine.qmp.DeadlineSocket;
import io.hypervise.engine.vm.VmNotFoundException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Screen thumbnails shared by everyone looking: a VM's frame is grabbed (a whole RFB frame, scaled and
 * encoded: tens of milliseconds of CPU) at most once per {@code maxAge} and size, however many pages
 * show it.
 *
 * <p>One worker's display must never hold what the rest of the server needs: a VM has at most one grab
 * at a time, on a virtual thread of its own and bounded by {@link #GRAB_TIMEOUT}; concurrent requests
 * wait for that grab, never past its deadline. A display that did not answer in time is remembered as
 * not answering: requests for it are refused at once (while one grab at a time checks whether it
 * answers again), and the engine is asked to check its worker, which it then shows as unresponsive.
 */
@ApplicationScoped
public class Thumbnails {

    static final Duration GRAB_TIMEOUT = Duration.ofSeconds(5);
    /** Thumbnails older than this are dropped when another is stored: VMs turned off or deleted. */
    static final Duration KEEP = Duration.ofMinutes(1);

    private record Key(String vmId, int width) {
    }

    private record Shot(byte[] png, Instant at) {
    }

    private final Map<Key, Shot> shots = new ConcurrentHashMap<>();
    /** The grab in flight per VM: at most one. */
    private final Map<String, CompletableFuture<BufferedImage>> grabbing = new ConcurrentHashMap<>();
    /** VMs whose last grab timed out, and when: until a grab succeeds. */
    private final Map<String, Instant> notAnswering = new ConcurrentHashMap<>();
    private final Clock clock;
    private final AtomicLong grabs = new AtomicLong();

    @Inject
    Engine engine;

    public Thumbnails() {
        this(Clock.systemUTC());
    }

    Thumbnails(Clock clock) {
        this.clock = clock;
    }

    /** How many frames were grabbed from displays so far (the rest were shared). */
    public long grabs() {
        return grabs.get();
    }

    /**
     * A PNG of the VM's screen at most {@code width} wide, no older than {@code maxAge} (zero: grab now).
     *
     * @throws DeadlineSocket.NotAnsweringException at once if the display is known not to answer, or
     *                                              after the grab's deadline if it did not answer in time
     * @throws IOException                          if the display failed otherwise (closed: the VM stopped)
     */
    public byte[] png(String vmId, VmDisplay display, int width, Duration maxAge) throws IOException {
        Key key = new Key(vmId, width);
        Shot shot = shots.get(key);
        Instant now = clock.instant();
        if (shot != null && !maxAge.isZero() && !shot.at().plus(maxAge).isBefore(now)) {
            return shot.png();
        }
        CompletableFuture<BufferedImage> grab = grab(vmId, display);
        Instant silentSince = notAnswering.get(vmId);
        if (silentSince != null) {
            throw new DeadlineSocket.NotAnsweringException("the display of VM " + vmId + " has not answered since "
                    + silentSince.truncatedTo(ChronoUnit.SECONDS) + "; its worker may be stopped or hung", null);
        }
        byte[] png = ScreenGrab.png(await(grab), width);
        shots.put(key, new Shot(png, now));
        // Forget what nobody asked for lately.
        shots.entrySet().removeIf(e -> e.getValue().at().plus(KEEP).isBefore(now));
        return png;
    }

    /** The VM's grab in flight, or a new one on a virtual thread; either ends by its deadline. */
    private CompletableFuture<BufferedImage> grab(String vmId, VmDisplay display) {
        CompletableFuture<BufferedImage> frame = new CompletableFuture<>();
        CompletableFuture<BufferedImage> inFlight = grabbing.putIfAbsent(vmId, frame);
        if (inFlight != null) {
            return inFlight;
        }
        grabs.incrementAndGet();
        Thread.ofVirtual().name("screen-grab-" + vmId).start(() -> {
            try {
                BufferedImage image = ScreenGrab.frame(display, GRAB_TIMEOUT);
                notAnswering.remove(vmId);
                frame.complete(image);
            } catch (DeadlineSocket.NotAnsweringException e) {
                notAnswering.putIfAbsent(vmId, clock.instant());
                frame.completeExceptionally(e);
                checkWorker(vmId);
            } catch (IOException | RuntimeException e) {
                frame.completeExceptionally(e);
            } finally {
                grabbing.remove(vmId, frame);
            }
        });
        return frame;
    }

    /** Has the engine ask the VM's worker whether it answers (it may have been deleted meanwhile). */
    private void checkWorker(String vmId) {
        try {
            engine.vms().checkAnswering(vmId);
        } catch (VmNotFoundException gone) {
            notAnswering.remove(vmId);
        }
    }

    /** Waits for a grab, never past its deadline (plus a moment for the grab to say why it ended). */
    private static BufferedImage await(CompletableFuture<BufferedImage> grab) throws IOException {
        try {
            return grab.get(GRAB_TIMEOUT.plusSeconds(1).toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new DeadlineSocket.NotAnsweringException("the display did not answer within "
                    + GRAB_TIMEOUT.toSeconds() + " s", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the display", e);
        }
    }
}
