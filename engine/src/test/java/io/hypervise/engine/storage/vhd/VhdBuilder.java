package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.storage.VhdFooter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Builds dynamic and differencing VHDs sector by sector, as Hyper-V lays them out (footer copy, header,
 * table, parent locators, blocks, footer). Test-only (the server's tests use it too, through the engine's
 * test jar): qemu-img cannot make a differencing VHD.
 */
public final class VhdBuilder {

    private final long virtualSize;
    private final int blockSize;
    private UUID uniqueId = UUID.randomUUID();
    private UUID parentId;
    private String parentName = "";
    private final List<ParentLocator> locators = new ArrayList<>();
    /** Sectors in the file whose bitmap bit is set. */
    private final Map<Long, byte[]> present = new TreeMap<>();
    /** Sectors in the file whose bitmap bit is clear: a reader must not see them. */
    private final Map<Long, byte[]> stale = new TreeMap<>();

    private VhdBuilder(long virtualSize, int blockSize) {
        this.virtualSize = virtualSize;
        this.blockSize = blockSize;
    }

    public static VhdBuilder dynamic(long virtualSize, int blockSize) {
        return new VhdBuilder(virtualSize, blockSize);
    }

    /** A child of the VHD at {@code parent}, as large, naming it by its file name. */
    public static VhdBuilder childOf(Path parent, int blockSize) throws IOException {
        VhdDescription p = VhdImport.describe(parent);
        return new VhdBuilder(p.virtualSize(), blockSize).parent(p.uniqueId(), parent.getFileName().toString());
    }

    public VhdBuilder parent(UUID id, String name) {
        this.parentId = id;
        this.parentName = name;
        return this;
    }

    public VhdBuilder uniqueId(UUID id) {
        this.uniqueId = id;
        return this;
    }

    public VhdBuilder locator(ParentLocator.Platform platform, String path) {
        locators.add(new ParentLocator(platform, path));
        return this;
    }

    /** A sector this disk holds. */
    public VhdBuilder sector(long index, byte[] data) {
        present.put(index, Arrays.copyOf(data, 512));
        return this;
    }

    /** A sector written into an allocated block with its bitmap bit clear: the parent's must show through. */
    public VhdBuilder stale(long index, byte[] data) {
        stale.put(index, Arrays.copyOf(data, 512));
        return this;
    }

    public UUID uniqueId() {
        return uniqueId;
    }

    public Path writeTo(Path file) throws IOException {
        long entries = (virtualSize + blockSize - 1) / blockSize;
        DynamicHeader shape = DynamicHeader.dynamic(VhdExport.TABLE_OFFSET, entries, blockSize);
        long next = VhdExport.TABLE_OFFSET + shape.tableBytes();
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            List<DynamicHeader.LocatorEntry> entriesOfLocators = new ArrayList<>();
            for (ParentLocator l : locators) {
                byte[] data = l.path().getBytes(l.platform() == ParentLocator.Platform.W2KU
                        || l.platform() == ParentLocator.Platform.W2RU ? StandardCharsets.UTF_16LE : StandardCharsets.UTF_8);
                long space = (data.length + 511) / 512 * 512;
                entriesOfLocators.add(new DynamicHeader.LocatorEntry(l.platform().code(), (int) space, data.length, next));
                VhdImport.writeFully(out, ByteBuffer.wrap(data), next);
                next += Math.max(512, space);
            }
            ByteBuffer table = ByteBuffer.allocate((int) shape.tableBytes()).order(ByteOrder.BIG_ENDIAN);
            Arrays.fill(table.array(), (byte) 0xFF);
            long sectorsPerBlock = blockSize / 512;
            TreeMap<Long, byte[]> all = new TreeMap<>(stale);
            all.putAll(present);
            for (long block : all.keySet().stream().map(s -> s / sectorsPerBlock).distinct().toList()) {
                table.putInt((int) block * 4, (int) (next / 512));
                byte[] bitmap = new byte[(int) shape.bitmapSize()];
                for (var e : all.subMap(block * sectorsPerBlock, (block + 1) * sectorsPerBlock).entrySet()) {
                    int inBlock = (int) (e.getKey() - block * sectorsPerBlock);
                    if (present.containsKey(e.getKey())) {
                        bitmap[inBlock / 8] |= (byte) (0x80 >>> (inBlock % 8));
                    }
                    VhdImport.writeFully(out, ByteBuffer.wrap(e.getValue()), next + bitmap.length + inBlock * 512L);
                }
                VhdImport.writeFully(out, ByteBuffer.wrap(bitmap), next);
                next += bitmap.length + blockSize;
            }
            boolean child = parentId != null;
            DynamicHeader header = new DynamicHeader(VhdExport.TABLE_OFFSET, entries, blockSize,
                    child ? parentId : new UUID(0, 0), Instant.parse("2024-01-01T00:00:00Z"), parentName,
                    entriesOfLocators);
            VhdFooter footer = new VhdFooter(child ? VhdFooter.DIFFERENCING : VhdFooter.DYNAMIC, VhdFooter.FOOTER_SIZE,
                    Instant.parse("2024-02-01T00:00:00Z"), "win ", 0x000A0000, "Wi2k", virtualSize, virtualSize,
                    VhdFooter.Geometry.forSectors(virtualSize / 512), uniqueId, false);
            VhdImport.writeFully(out, table, VhdExport.TABLE_OFFSET);
            VhdImport.writeFully(out, header.encode(), VhdFooter.FOOTER_SIZE);
            VhdImport.writeFully(out, footer.encode(), next);
            VhdImport.writeFully(out, footer.encode(), 0);
        }
        return file;
    }
}
