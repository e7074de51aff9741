package io.hypervise.engine.storage.vhd;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.storage.VhdFooter;
import io.hypervise.engine.storage.VhdFooter.Geometry;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The footer and dynamic header, field by field, and the spec's geometry algorithm. */
class VhdStructuresTest {

    @Test
    void geometryFollowsTheSpecsAlgorithmAndRoundsDown() {
        assertThat(Geometry.forSectors(8192)).isEqualTo(new Geometry(120, 4, 17)); // 4 MiB
        assertThat(Geometry.forSectors(20L << 20 >> 9)).isEqualTo(new Geometry(602, 4, 17)); // 20 MiB: 2409 cylinders x heads, of 4 heads
        assertThat(Geometry.forSectors(10L << 30 >> 9)).isEqualTo(new Geometry(20805, 16, 63)); // 10 GiB
        assertThat(Geometry.forSectors(127L << 30 >> 9)).isEqualTo(new Geometry(65278, 16, 255)); // past 65535*16*63 sectors
        assertThat(Geometry.forSectors(2040L << 30 >> 9)).isEqualTo(new Geometry(65535, 16, 255)); // capped
        for (long sectors = 1; sectors < 70_000_000; sectors = sectors * 3 + 7) {
            assertThat(Geometry.forSectors(sectors).sectors()).isLessThanOrEqualTo(sectors);
        }
    }

    @Test
    void aFooterSurvivesEncodingAndParsing() throws Exception {
        VhdFooter footer = new VhdFooter(VhdFooter.DIFFERENCING, 512, Instant.parse("2024-03-04T05:06:07Z"), "win ",
                0x000A0000, "Wi2k", 3L << 30, 5L << 30, Geometry.forSectors(5L << 21), UUID.randomUUID(), false);

        assertThat(VhdFooter.parse(footer.encode())).isEqualTo(footer);
    }

    @Test
    void aDynamicHeaderSurvivesEncodingAndParsing() throws Exception {
        DynamicHeader header = new DynamicHeader(1536, 0xFFFF_FFF0L, 1 << 21, UUID.randomUUID(),
                Instant.parse("2024-03-04T05:06:07Z"), "parent disk \u00e9.vhd",
                List.of(new DynamicHeader.LocatorEntry(ParentLocator.Platform.W2KU.code(), 1, 40, 1L << 33),
                        DynamicHeader.LocatorEntry.UNUSED, DynamicHeader.LocatorEntry.UNUSED, DynamicHeader.LocatorEntry.UNUSED,
                        DynamicHeader.LocatorEntry.UNUSED, DynamicHeader.LocatorEntry.UNUSED, DynamicHeader.LocatorEntry.UNUSED,
                        DynamicHeader.LocatorEntry.UNUSED));

        DynamicHeader parsed = DynamicHeader.parse(header.encode());

        assertThat(parsed).isEqualTo(header);
        assertThat(parsed.bitmapSize()).isEqualTo(512);
        assertThat(DynamicHeader.dynamic(1536, 1, 4096).bitmapSize()).isEqualTo(512);
        assertThat(DynamicHeader.dynamic(1536, 1, 1 << 30).bitmapSize()).isEqualTo(256 * 1024);
    }
}
