package io.hypervise.server.vm;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A VM as one file, to move it between hosts or installations: a tar archive (POSIX ustar, 512-byte
 * records) whose entries come in this order:
 *
 * <ol>
 *   <li>{@value #MANIFEST}: this record as JSON (the definition, and what each entry holds);
 *   <li>{@code disks/disk<i>.qcow2}: each disk, a self-contained qcow2 (linked clones flattened, raw
 *       images converted, so holes take no room);
 *   <li>{@value #UEFI_VARIABLES}, for a UEFI VM: its firmware variables (boot entries, settings);
 *   <li>{@value #SUMS}: the SHA-256 of every entry before it, as {@code sha256sum} prints them, so an
 *       archive can be checked with {@code tar -x && sha256sum -c SHA256SUMS}.
 * </ol>
 *
 * An importer takes nothing else: no links, no other names, no entry larger or smaller than the
 * manifest says; names in the archive never become paths on the host.
 *
 * @param exportedFrom the host it was exported from
 * @param notCarried what the VM had that the archive does not hold (an ISO in its CD-ROM), in words
 */
public record VmArchive(String format, int version, Instant exportedAt, String exportedFrom, String exportedBy, Vm vm,
        String uefiVariables, Long uefiVariablesBytes, List<String> notCarried) {

    public static final String FORMAT = "hypervise-vm-archive";
    public static final int VERSION = 1;
    public static final String MANIFEST = "hypervise-vm.json";
    public static final String UEFI_VARIABLES = "uefi-vars.fd";
    public static final String SUMS = "SHA256SUMS";
    /** The archive's suffix, as the download is named: {@code web-1.hvm.tar}. */
    public static final String SUFFIX = ".hvm.tar";
    static final int RECORD = 512;
    /** A manifest is small; a larger first entry is not one. */
    static final int MAX_MANIFEST_BYTES = 1 << 20;
    static final int MAX_DISKS = 16;
    private static final Pattern SUM_LINE = Pattern.compile("([0-9a-f]{64}) [ *](\\S+)");

    /** The VM's settings, as a VM request would give them, and its disks and adapters. */
    public record Vm(String name, int vcpus, int memoryMib, String profile, String display, String firmware, Boot boot,
            List<ArchivedDisk> disks, List<ArchivedNic> nics) {
    }

    /**
     * How the VM boots: {@code disk} (its first disk), or {@code kernel}: a template's kernel (by the
     * template's id, which the importing installation must have) or files given by their paths in the
     * storage root.
     */
    public record Boot(String kind, String template, String kernel, String initramfs, String commandLine) {
    }

    /** @param bytes the entry's length in the archive; {@code virtualBytes} the size the guest sees */
    public record ArchivedDisk(String file, String format, long bytes, long virtualBytes, boolean readOnly) {
    }

    public record ArchivedNic(String mac, @JsonProperty("switch") String switchId, Integer vlan) {
    }

    /** The archive entry of disk {@code position}. */
    public static String diskEntry(int position) {
        return "disks/disk" + position + ".qcow2";
    }

    /** The entries after the manifest, in order, with their lengths (the sums excepted). */
    public Map<String, Long> payload() {
        Map<String, Long> entries = new LinkedHashMap<>();
        vm.disks().forEach(d -> entries.put(d.file(), d.bytes()));
        if (uefiVariables != null) {
            entries.put(uefiVariables, uefiVariablesBytes);
        }
        return entries;
    }

    /** How long a tar entry of {@code bytes} is: its header and its data, padded to a whole record. */
    static long entryLength(long bytes) {
        return RECORD + (bytes + RECORD - 1) / RECORD * RECORD;
    }

    /** The archive's whole length, given the manifest's and the sums' lengths: known before a byte is sent. */
    static long archiveLength(long manifestBytes, Map<String, Long> payload, long sumsBytes) {
        long length = entryLength(manifestBytes) + entryLength(sumsBytes) + 2L * RECORD;
        for (long bytes : payload.values()) {
            length += entryLength(bytes);
        }
        return length;
    }

    /** The sums entry's text: a line per entry, {@code <hex>  <name>}. */
    static String sums(Map<String, byte[]> digests) {
        StringBuilder text = new StringBuilder();
        digests.forEach((name, digest) -> text.append(HexFormat.of().formatHex(digest)).append("  ").append(name).append('\n'));
        return text.toString();
    }

    /** The sums entry's length, for entries of these names (every digest is 32 bytes). */
    static long sumsLength(List<String> names) {
        return names.stream().mapToLong(n -> 64 + 2 + n.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1).sum();
    }

    /** Reads a sums entry; a line that is not {@code <hex>  <name>} is an error naming it. */
    static Map<String, String> parseSums(String text) {
        Map<String, String> sums = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            Matcher m = SUM_LINE.matcher(line.strip());
            if (!m.matches()) {
                throw new IllegalArgumentException("line '" + (line.length() > 80 ? line.substring(0, 80) + "…" : line)
                        + "' is not '<sha-256 in hex>  <entry>'");
            }
            sums.put(m.group(2), m.group(1));
        }
        return sums;
    }

    /**
     * What is wrong with a manifest read from an archive, each in words; empty if nothing is. The VM's
     * settings are checked later, as a creation's are; this checks the archive's own structure.
     */
    List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (!FORMAT.equals(format)) {
            problems.add("format must be '" + FORMAT + "'; got '" + format + "'");
        }
        if (version != VERSION) {
            problems.add("version " + version + " is not one this server reads (it reads " + VERSION + ")");
        }
        if (vm == null) {
            problems.add("vm is required");
            return problems;
        }
        if (vm.disks() == null || vm.disks().size() > MAX_DISKS) {
            problems.add("vm.disks must list from 0 to " + MAX_DISKS + " disks");
        } else {
            for (int i = 0; i < vm.disks().size(); i++) {
                ArchivedDisk d = vm.disks().get(i);
                String field = "vm.disks[" + i + "]";
                if (d == null) {
                    problems.add(field + " must be an object");
                    continue;
                }
                if (!diskEntry(i).equals(d.file())) {
                    problems.add(field + ".file must be '" + diskEntry(i) + "'; got '" + d.file() + "'");
                }
                if (!"qcow2".equals(d.format())) {
                    problems.add(field + ".format must be qcow2 (archives carry their disks as qcow2); got '" + d.format() + "'");
                }
                if (d.bytes() < 1 || d.virtualBytes() < 1 || d.virtualBytes() > io.hypervise.engine.storage.DiskImages.MAX_BYTES) {
                    problems.add(field + " must have bytes of at least 1 and virtualBytes from 1 to 64 TiB");
                }
            }
        }
        if (vm.nics() != null && vm.nics().size() > 8) {
            problems.add("vm.nics must list at most 8 adapters");
        }
        if (uefiVariables != null && (!UEFI_VARIABLES.equals(uefiVariables) || uefiVariablesBytes == null
                || uefiVariablesBytes < 1 || uefiVariablesBytes > 64L << 20)) {
            problems.add("uefiVariables must be '" + UEFI_VARIABLES + "' with uefiVariablesBytes from 1 to 64 MiB");
        }
        if (uefiVariables != null && !"uefi".equalsIgnoreCase(vm.firmware())) {
            problems.add("uefiVariables are only for a VM whose firmware is uefi");
        }
        return problems;
    }
}
