package io.hypervise.server.ui;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.placement.PlacementSettings;
import io.hypervise.server.placement.Rating;
import io.hypervise.server.placement.Ratings;
import io.hypervise.server.placement.Weights;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How the "Rate hosts" dialog writes each host's rating: stars as glyphs and to a tenth, this server's host marked. */
class RatingsDialogTest {

    @Test
    void eachRowShowsItsStarsAsGlyphsAndToATenthAndMarksThisServersHost() {
        Ratings ratings = new Ratings(null, null, "1 vCPU, 64 MiB", new PlacementSettings("balance",
                new Weights(0, 2, 0.5), null, null), List.of(
                new Rating("b", "host b", 3.6, true, List.of("3.6 stars: …")),
                new Rating("a", "host a", 0, false, List.of("in maintenance mode"))));
        RatingsDialog dialog = new RatingsDialog("web-1", ratings, true, "a");
        assertThat(dialog.rows()).extracting(RatingsDialog.Row::hostName, RatingsDialog.Row::glyphs,
                RatingsDialog.Row::stars, RatingsDialog.Row::local).containsExactly(
                        org.assertj.core.groups.Tuple.tuple("host b", "★★★★☆", "3.6", false),
                        org.assertj.core.groups.Tuple.tuple("host a", "☆☆☆☆☆", "0.0", true));
        assertThat(dialog.weights()).isEqualTo("CPU 0, memory 2, storage 0.5");
        assertThat(dialog.goal()).isEqualTo("balance");
    }

    @Test
    void aLoadIsWrittenInCoresToATenth() {
        assertThat(Formats.cores(1.04)).isEqualTo("1 core");
        assertThat(Formats.cores(0.0)).isEqualTo("0 cores");
        assertThat(Formats.cores(2.46)).isEqualTo("2.5 cores");
    }
}
