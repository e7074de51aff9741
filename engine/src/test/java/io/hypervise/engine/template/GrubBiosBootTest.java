package io.hypervise.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class GrubBiosBootTest {

    @Test
    void theMasterBootRecordGetsGrubsCodeAndKeepsItsPartitionTable() {
        byte[] boot = new byte[512];
        Arrays.fill(boot, (byte) 0x11);
        boot[0x66] = (byte) 0xeb;
        boot[0x67] = 0x05;
        byte[] existing = new byte[512];
        Arrays.fill(existing, 440, 510, (byte) 0x22);
        existing[510] = 0x55;
        existing[511] = (byte) 0xaa;

        byte[] mbr = GrubBiosBoot.masterBootRecord(boot, existing, 2048);

        ByteBuffer b = ByteBuffer.wrap(mbr).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.getLong(0x5c)).as("core.img's sector").isEqualTo(2048);
        assertThat(mbr[0x64] & 0xff).as("boot drive: the one booted from").isEqualTo(0xff);
        assertThat(Arrays.copyOfRange(mbr, 0x66, 0x68)).as("floppy check jump turned into NOPs")
                .containsExactly(0x90, 0x90);
        assertThat(mbr[0]).isEqualTo((byte) 0x11);
        assertThat(Arrays.copyOfRange(mbr, 440, 512)).isEqualTo(Arrays.copyOfRange(existing, 440, 512));
    }

    @Test
    void aDiskWithoutAPartitionTableIsRefused() {
        assertThatThrownBy(() -> GrubBiosBoot.masterBootRecord(new byte[512], new byte[512], 2048))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no partition table");
    }

    @Test
    void coreImgsBlockListPointsAtItsOwnSecondSector() {
        byte[] core = coreImg(62);

        byte[] placed = GrubBiosBoot.core(core, 2048);

        ByteBuffer b = ByteBuffer.wrap(placed).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.getLong(0x1f4)).isEqualTo(2049);
        assertThat(b.getShort(0x1fc)).isEqualTo((short) 61);
        assertThat(b.getShort(0x1fe)).isEqualTo((short) 0x820);
    }

    @Test
    void somethingElseThanACoreImgIsRefused() {
        byte[] core = coreImg(62);
        ByteBuffer.wrap(core).order(ByteOrder.LITTLE_ENDIAN).putShort(0x1fc, (short) 3);
        assertThatThrownBy(() -> GrubBiosBoot.core(core, 2048)).hasMessageContaining("grub-mkimage");
    }

    /** What grub-mkimage -O i386-pc writes: diskboot.img's list says "from sector 2, N-1 sectors, to 0x820". */
    private static byte[] coreImg(int sectors) {
        byte[] core = new byte[sectors * 512 - 100];
        ByteBuffer.wrap(core).order(ByteOrder.LITTLE_ENDIAN).putLong(0x1f4, 2).putShort(0x1fc, (short) (sectors - 1))
                .putShort(0x1fe, (short) 0x820);
        return core;
    }
}
