package io.hypervise.engine.vm.definition;

import io.hypervise.engine.storage.ImageSignature;
import io.hypervise.engine.storage.MalformedImageException;
import io.hypervise.engine.storage.QcowHeader;
import io.hypervise.engine.storage.VhdFooter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Reads an image's header with our own code before QEMU sees it: the image must be the format it is
 * declared as, and must lead QEMU to no other file (a backing file, an external data file, a parent
 * disk). Asked when a VM is defined and again just before each worker starts, since a file can be
 * rewritten in between.
 */
final class DiskImageCheck {

    private DiskImageCheck() {
    }

    /**
     * Why the image may not be attached as {@code format}, or empty when it may. A linked clone's overlay
     * ({@code base} not null) may name exactly that base as its backing file, which is how Hypervise made
     * it; QEMU is given the base explicitly all the same.
     */
    static Optional<String> problemWith(Path image, DiskFormat format, Path base) {
        try {
            return switch (format) {
                case QCOW2 -> base != null ? overlay(QcowHeader.read(image), base)
                        : QcowHeader.read(image).externalFiles().map(why -> "is a qcow2 image that " + why
                                + "; Hypervise attaches only self-contained images");
                case RAW -> ImageSignature.of(image).map(s -> "is declared raw but starts with a " + s.format()
                        + " header, which names files of its own to any tool that probes it; declare its real format,"
                        + " or convert it to raw");
                case VHD -> vhd(VhdFooter.read(image));
                case VHDX -> ImageSignature.VHDX == ImageSignature.of(image).orElse(null) ? Optional.empty()
                        : Optional.of("is not a VHDX image (it does not start with \"vhdxfile\")");
            };
        } catch (MalformedImageException e) {
            return Optional.of(e.getMessage());
        } catch (IOException e) {
            return Optional.of("cannot be read: " + e.getMessage());
        }
    }

    private static Optional<String> overlay(QcowHeader header, Path base) {
        if (!base.toString().equals(header.backingFile())) {
            return Optional.of("is a linked clone whose header names the base '" + header.backingFile()
                    + "', not its recorded base " + base);
        }
        return new QcowHeader(header.version(), header.clusterBits(), null, header.dataFile(),
                header.unknownIncompatibleFeatures()).externalFiles()
                .map(why -> "is a qcow2 image that " + why + "; Hypervise attaches only self-contained images");
    }

    private static Optional<String> vhd(VhdFooter footer) {
        return switch (footer.diskType()) {
            case VhdFooter.FIXED, VhdFooter.DYNAMIC -> Optional.empty();
            case VhdFooter.DIFFERENCING -> Optional.of("is a differencing VHD, whose data is partly in a parent disk"
                    + " that QEMU would not read (it would show zeros there); merge it into a fixed or dynamic VHD first");
            default -> Optional.of("is a VHD " + footer.typeName() + "; only fixed and dynamic VHDs are attached");
        };
    }
}
