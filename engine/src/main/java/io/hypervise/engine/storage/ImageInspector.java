package io.hypervise.engine.storage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Decides whether a file may enter the library, and as what: its format is the one declared or, where
 * none is, the one its magic bytes announce; a declared format the bytes contradict is refused; and an
 * image that would lead any tool to another file (a qcow2 backing or external data file, a differencing
 * VHD's parent) is refused with the reason, since that is how a host file is smuggled into a guest.
 */
public final class ImageInspector {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path qemuImg;

    public ImageInspector(Path qemuImg) {
        this.qemuImg = qemuImg;
    }

    /** @throws MalformedImageException saying why the file may not be taken as {@code declared} (null: detect) */
    public ImageInspection inspect(Path file, ImageFormat declared) throws IOException {
        ImageFormat detected = ImageFormat.detect(file);
        ImageFormat format = agree(declared, detected);
        long actual = Files.size(file);
        try {
            actual = ((Number) Files.getAttribute(file, "unix:size")).longValue();
            long blocks = ((Number) Files.getAttribute(file, "unix:blocks")).longValue();
            actual = Math.min(actual, blocks * 512);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            // not a unix file system: the apparent size stands in
        }
        return switch (format) {
            case ISO, RAW -> {
                long size = Files.size(file);
                if (size == 0) {
                    throw new MalformedImageException("is empty");
                }
                yield new ImageInspection(format, null, size, actual);
            }
            case QCOW2 -> {
                QcowHeader header = QcowHeader.read(file);
                var external = header.externalFiles();
                if (external.isPresent()) {
                    throw new MalformedImageException("is a qcow2 image that " + external.get()
                            + "; the library takes only self-contained images");
                }
                yield new ImageInspection(format, null, qcowSize(file), actual);
            }
            case VHD -> {
                VhdFooter footer = VhdFooter.read(file);
                if (!footer.fixed() && footer.diskType() != VhdFooter.DYNAMIC) {
                    throw new MalformedImageException("is a VHD " + footer.typeName()
                            + (footer.diskType() == VhdFooter.DIFFERENCING
                                    ? " disk, whose data is partly in its parent; import the whole chain" : "")
                            + "; only fixed and dynamic VHDs are taken alone");
                }
                yield new ImageInspection(format, footer.fixed() ? "fixed" : "dynamic", vhdSize(file), actual);
            }
            case VHDX -> new ImageInspection(format, null, vhdxSize(file), actual);
        };
    }

    /** The format to take the file as; a declaration the bytes contradict is refused. */
    static ImageFormat agree(ImageFormat declared, ImageFormat detected) throws MalformedImageException {
        if (declared == null || declared == detected) {
            return detected;
        }
        if (detected == ImageFormat.ISO && declared == ImageFormat.RAW || detected == ImageFormat.RAW && declared == ImageFormat.ISO) {
            // An ISO is raw bytes with a file system in them; a raw disk that is not an ISO cannot boot as one, but is harmless.
            return declared;
        }
        if (detected == ImageFormat.RAW) {
            throw new MalformedImageException("is declared " + declared.id() + " but has no " + declared.id()
                    + " header; it looks like a raw image");
        }
        throw new MalformedImageException("is declared " + declared.id() + " but starts with a " + detected.id()
                + " header, which would name files of its own to any tool that trusted it; declare its real format");
    }

    static long qcowSize(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ImageBytes.read(channel, 24, 8).getLong(0);
            if (size <= 0) {
                throw new MalformedImageException("has a qcow2 header with an impossible size (" + Long.toUnsignedString(size) + ")");
            }
            return size;
        }
    }

    /** The footer's current size (offset 48), from its copy at the start or at the end. */
    private static long vhdSize(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer footer = ImageBytes.read(channel, 0, VhdFooter.FOOTER_SIZE);
            if (!ImageSignature.VHD.startsWith(footer)) {
                footer = ImageBytes.read(channel, channel.size() - VhdFooter.FOOTER_SIZE, VhdFooter.FOOTER_SIZE);
            }
            long size = footer.getLong(48);
            if (size <= 0) {
                throw new MalformedImageException("has a VHD footer with an impossible size (" + Long.toUnsignedString(size) + ")");
            }
            return size;
        }
    }

    /** VHDX keeps its size in a metadata region; qemu-img reads it, told the format (it never probes). */
    private long vhdxSize(Path file) throws IOException {
        Process p = new ProcessBuilder(List.of(qemuImg.toString(), "info", "-f", "vhdx", "--output=json", file.toString()))
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new MalformedImageException("is not a VHDX image qemu-img can read: " + out.strip());
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reading " + file, e);
        }
        JsonNode info = JSON.readTree(out);
        if (info.hasNonNull("backing-filename") || info.hasNonNull("full-backing-filename")) {
            throw new MalformedImageException("is a VHDX image with a parent disk; only self-contained VHDX images are taken");
        }
        long size = info.path("virtual-size").asLong(0);
        if (size <= 0) {
            throw new MalformedImageException("is a VHDX image without a readable size");
        }
        return size;
    }
}
