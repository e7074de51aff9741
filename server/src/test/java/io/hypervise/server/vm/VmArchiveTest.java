package io.hypervise.server.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;

/** The archive's structure: its length known ahead, its sums, and what a manifest may not say. */
class VmArchiveTest {

    @Test
    void theLengthAnnouncedBeforeTheFirstByteIsTheLengthTheTarHas() throws Exception {
        Map<String, Long> payload = new LinkedHashMap<>();
        payload.put("disks/disk0.qcow2", 196_608L);
        payload.put("disks/disk1.qcow2", 1L);
        payload.put("uefi-vars.fd", 540_672L + 7);
        byte[] manifest = "{\"format\":\"hypervise-vm-archive\"}".getBytes(StandardCharsets.UTF_8);
        List<String> names = List.of("hypervise-vm.json", "disks/disk0.qcow2", "disks/disk1.qcow2", "uefi-vars.fd");
        Map<String, byte[]> digests = new LinkedHashMap<>();
        names.forEach(n -> digests.put(n, new byte[32]));
        byte[] sums = VmArchive.sums(digests).getBytes(StandardCharsets.US_ASCII);
        assertThat((long) sums.length).isEqualTo(VmArchive.sumsLength(names));

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out, VmArchive.RECORD)) {
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_STAR);
            write(tar, "hypervise-vm.json", manifest.length);
            payload.forEach((name, bytes) -> write(tar, name, bytes));
            write(tar, "SHA256SUMS", sums.length);
            tar.finish();
        }
        assertThat((long) out.size()).isEqualTo(VmArchive.archiveLength(manifest.length, payload, sums.length));
    }

    @Test
    void sumsReadBackAsSha256sumWritesThemAndAnythingElseIsNamed() {
        Map<String, byte[]> digests = new LinkedHashMap<>();
        digests.put("disks/disk0.qcow2", new byte[32]);
        assertThat(VmArchive.parseSums(VmArchive.sums(digests)))
                .containsEntry("disks/disk0.qcow2", "0".repeat(64));
        assertThat(VmArchive.parseSums("ab".repeat(32) + " *uefi-vars.fd\n")).containsEntry("uefi-vars.fd", "ab".repeat(32));
        assertThatThrownBy(() -> VmArchive.parseSums("nonsense here\n"))
                .hasMessageContaining("'nonsense here' is not '<sha-256 in hex>  <entry>'");
    }

    @Test
    void aManifestNamesOnlyItsOwnEntriesInItsOwnFormat() {
        VmArchive.Vm vm = new VmArchive.Vm("web", 1, 256, "enlightened", "vnc", "bios",
                new VmArchive.Boot("disk", null, null, null, null),
                List.of(new VmArchive.ArchivedDisk("../../etc/shadow", "raw", 10, 10, false)), List.of());
        VmArchive archive = new VmArchive("hypervise-vm-archive", 2, Instant.now(), "h", "u", vm, "uefi-vars.fd", 10L, List.of());
        assertThat(archive.problems()).containsExactly(
                "version 2 is not one this server reads (it reads 1)",
                "vm.disks[0].file must be 'disks/disk0.qcow2'; got '../../etc/shadow'",
                "vm.disks[0].format must be qcow2 (archives carry their disks as qcow2); got 'raw'",
                "uefiVariables are only for a VM whose firmware is uefi");
        VmArchive good = new VmArchive("hypervise-vm-archive", 1, Instant.now(), "h", "u", new VmArchive.Vm("web", 1, 256,
                "enlightened", "vnc", "uefi", vm.boot(), List.of(new VmArchive.ArchivedDisk("disks/disk0.qcow2", "qcow2",
                196_608, 1 << 26, false)), List.of()), "uefi-vars.fd", 540_672L, List.of());
        assertThat(good.problems()).isEmpty();
        assertThat(good.payload()).containsExactly(Map.entry("disks/disk0.qcow2", 196_608L), Map.entry("uefi-vars.fd", 540_672L));
    }

    private static void write(TarArchiveOutputStream tar, String name, long bytes) {
        try {
            TarArchiveEntry entry = new TarArchiveEntry(name);
            entry.setSize(bytes);
            tar.putArchiveEntry(entry);
            tar.write(new byte[(int) bytes]);
            tar.closeArchiveEntry();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
