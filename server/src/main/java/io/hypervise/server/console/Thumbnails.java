package io.hypervise.server.console;

import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Screen thumbnails shared by everyone looking: a VM's frame is grabbed (a whole RFB frame, scaled and
 * encoded: tens of milliseconds of CPU) at most once per {@code maxAge} and size, however many pages
 * show it, and concurrent requests for the same one wait for a single grab.
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

    /** One per key: who grabs holds it, so the others wait and then take the same picture. */
    private final Map<Key, Object> locks = new ConcurrentHashMap<>();
    private final Map<Key, Shot> shots = new ConcurrentHashMap<>();
    private final Clock clock;
    private final AtomicLong grabs = new AtomicLong();

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

    /** A PNG of the VM's screen at most {@code width} wide, no older than {@code maxAge} (zero: grab now). */
    public byte[] png(String vmId, Path display, int width, Duration maxAge) throws IOException {
        Key key = new Key(vmId, width);
        synchronized (locks.computeIfAbsent(key, k -> new Object())) {
            Shot shot = shots.get(key);
            Instant now = clock.instant();
            if (shot != null && !maxAge.isZero() && !shot.at().plus(maxAge).isBefore(now)) {
                return shot.png();
            }
            grabs.incrementAndGet();
            byte[] png = ScreenGrab.png(ScreenGrab.frame(display, GRAB_TIMEOUT), width);
            shots.put(key, new Shot(png, now));
            // Forget what nobody asked for lately. A lock dropped while someone waits on it costs at
            // most one extra grab, never a wrong picture.
            shots.entrySet().removeIf(e -> e.getValue().at().plus(KEEP).isBefore(now));
            locks.keySet().removeIf(k -> !shots.containsKey(k));
            return png;
        }
    }
}
