package io.hypervise.engine.guest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads what a guest wrote to its serial console: the test's window into what the guest really did. */
public final class SerialConsole {

    public static final String READY = "HYPERVISE-READY";
    private static final Pattern COUNTER = Pattern.compile("hv-counter (\\d+)");

    private final Path log;

    public SerialConsole(Path log) {
        this.log = log;
    }

    public String text() {
        try {
            return Files.isRegularFile(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the serial log " + log, e);
        }
    }

    public List<String> lines() {
        return text().lines().map(String::strip).toList();
    }

    /** How many times the line appears, to tell a new readiness marker from an old one. */
    public long count(String line) {
        return lines().stream().filter(l -> l.equals(line)).count();
    }

    /** Waits until the line has appeared {@code times} times; fails with the log's tail otherwise. */
    public void awaitLine(String line, long times, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (count(line) < times) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the guest did not print '" + line + "' (occurrence " + times + ") within "
                        + timeout.toSeconds() + " s; serial log ends with:\n" + tail(20));
            }
            sleep(100);
        }
    }

    /**
     * Waits until the text appears anywhere in the log, even mid-line: GRUB writes terminal escapes before
     * its first line.
     */
    public void awaitText(String text, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!text().contains(text)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the guest did not print '" + text + "' within " + timeout.toSeconds()
                        + " s; serial log ends with:\n" + tail(20) + "\nearlier, what failed and what Hypervise's guest"
                        + " services said:\n" + String.join("\n", lines().stream()
                                .filter(l -> l.contains("FAILED") || l.contains("hypervise-")).toList()));
            }
            sleep(100);
        }
    }

    /** The last counter value the guest printed. */
    public OptionalLong lastCounter() {
        Matcher m = COUNTER.matcher(text());
        long last = -1;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        return last < 0 ? OptionalLong.empty() : OptionalLong.of(last);
    }

    /** Waits until the counter passes {@code value}; returns the new value. */
    public long awaitCounterAbove(long value, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            OptionalLong last = lastCounter();
            if (last.isPresent() && last.getAsLong() > value) {
                return last.getAsLong();
            }
            sleep(100);
        }
        throw new AssertionError("the guest's counter did not pass " + value + " within " + timeout.toSeconds()
                + " s; serial log ends with:\n" + tail(10));
    }

    public String tail(int n) {
        List<String> lines = lines();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
