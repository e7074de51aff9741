package io.hypervise.server.ui;

import io.hypervise.engine.host.HostLoad;
import io.quarkus.qute.TemplateExtension;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/** How pages write sizes, times and states: for people, not machines. */
@TemplateExtension
final class Formats {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
            .withZone(ZoneOffset.UTC);

    private Formats() {
    }

    /** 256 → "256 MiB", 2048 → "2 GiB", 1536 → "1.5 GiB". */
    static String mib(Number value) {
        long mib = value.longValue();
        if (mib < 1024) {
            return mib + " MiB";
        }
        double gib = mib / 1024.0;
        return (gib == Math.rint(gib) ? String.valueOf((long) gib) : String.format("%.1f", gib)) + " GiB";
    }

    static String bytes(Number bytes) {
        return bytes == null ? "" : mib(bytes.longValue() >> 20);
    }

    /** A count of bytes at the scale it needs: "512 B", "75.3 KiB", "1.1 MiB", "2.4 GiB". */
    static String traffic(Number bytes) {
        if (bytes == null) {
            return "—";
        }
        long b = bytes.longValue();
        if (b < 1024) {
            return b + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = b / 1024.0;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format("%.1f %s", v, units[u]);
    }

    /** A rate in bits per second, in the unit links are sold in: "64 kbit/s", "2 Mbit/s", "1.5 Gbit/s". */
    static String bitRate(Number bitsPerSecond) {
        if (bitsPerSecond == null) {
            return "—";
        }
        java.math.BigDecimal b = new java.math.BigDecimal(bitsPerSecond.longValue());
        String[] units = {"bit/s", "kbit/s", "Mbit/s", "Gbit/s"};
        int u = 0;
        while (b.compareTo(java.math.BigDecimal.valueOf(1000)) >= 0 && u < units.length - 1) {
            b = b.movePointLeft(3);
            u++;
        }
        return b.setScale(Math.min(b.scale(), 3), java.math.RoundingMode.HALF_UP).stripTrailingZeros().toPlainString()
                + " " + units[u];
    }

    /** A file's or an image's size, at the scale it needs: "4.0 MiB", "2.4 GiB". */
    static String size(Number bytes) {
        return traffic(bytes);
    }

    /** 0.42 → "0.4 cores", 1.0 → "1 core": a load in cores, to a tenth. */
    static String cores(Double value) {
        double tenths = Math.round(value * 10) / 10.0;
        String number = tenths == Math.rint(tenths) ? String.valueOf((long) tenths) : String.valueOf(tenths);
        return number + (tenths == 1 ? " core" : " cores");
    }

    static String time(Instant at) {
        return at == null ? "" : TIME.format(at);
    }

    /** How long ago: "12 s", "5 min", "3 h 4 min", "2 d 3 h". */
    static String age(Instant since) {
        if (since == null) {
            return "";
        }
        long s = Math.max(0, Duration.between(since, Instant.now()).toSeconds());
        if (s < 60) {
            return s + " s";
        }
        if (s < 3600) {
            return s / 60 + " min";
        }
        if (s < 86400) {
            return s / 3600 + " h " + s % 3600 / 60 + " min";
        }
        return s / 86400 + " d " + s % 86400 / 3600 + " h";
    }

    static int memoryUsedPercent(HostLoad load) {
        return percent(load.memoryTotalBytes() - load.memoryAvailableBytes(), load.memoryTotalBytes());
    }

    static int storageUsedPercent(HostLoad load) {
        return percent(load.storageTotalBytes() - load.storageFreeBytes(), load.storageTotalBytes());
    }

    private static int percent(long part, long whole) {
        return whole <= 0 ? 0 : (int) Math.round(100.0 * part / whole);
    }

    /** A CSS class for a state: "state-running", "state-off", ... */
    static String css(String state) {
        return "state-" + state.toLowerCase(java.util.Locale.ROOT);
    }
}
