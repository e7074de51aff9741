package io.hypervise.server.ui;

import io.hypervise.server.placement.Rating;
import io.hypervise.server.placement.Ratings;
import java.util.List;
import java.util.Locale;

/**
 * Every host's rating for a VM, as the "Rate hosts" dialog (a VM's page) and the new-VM wizard's review show them.
 *
 * @param subject  what was rated, in words ("web-1", "the new VM")
 * @param dialog   a dialog of its own (with a title and a Close button), or a part of the wizard
 * @param localHost this server's host, marked in the table (a new VM is created there until routing comes)
 */
public record RatingsDialog(String subject, Ratings ratings, boolean dialog, String localHost) {

    /** One host's row. */
    public record Row(String hostId, String hostName, boolean eligible, String stars, String glyphs, List<String> reasons,
            boolean local) {
    }

    public List<Row> rows() {
        return ratings.ratings().stream().map(this::row).toList();
    }

    public String goal() {
        return ratings.settings().goal();
    }

    /** "CPU 1, memory 2, storage 0". */
    public String weights() {
        var w = ratings.settings().weights();
        return "CPU " + number(w.cpu()) + ", memory " + number(w.memory()) + ", storage " + number(w.storage());
    }

    private Row row(Rating r) {
        int whole = (int) Math.round(r.stars());
        String glyphs = "★".repeat(whole) + "☆".repeat(5 - whole);
        return new Row(r.hostId(), r.hostName(), r.eligible(), String.format(Locale.ROOT, "%.1f", r.stars()), glyphs,
                r.reasons(), r.hostId().equals(localHost));
    }

    private static String number(double value) {
        return value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value);
    }
}
