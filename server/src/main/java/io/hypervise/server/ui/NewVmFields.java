package io.hypervise.server.ui;

import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.vm.VmRequest;
import jakarta.ws.rs.FormParam;
import java.util.ArrayList;
import java.util.List;

/**
 * The new-VM wizard's fields as the browser posts them (text, as typed), for both its Check and its
 * Create, and the API's request they stand for.
 */
public class NewVmFields {

    /**
     * "template"; "library-disk" for a disk made from a library disk image; "library-iso" to install
     * from a library ISO onto a blank disk; or "image" for a disk image under the storage root.
     */
    @FormParam("source")
    public String source;
    @FormParam("template")
    public String template;
    /** The library disk image (its id), for source library-disk. */
    @FormParam("libraryDisk")
    public String libraryDisk;
    /** "linked" (an overlay on the library image) or "full" (a copy), for source library-disk. */
    @FormParam("clone")
    public String clone;
    /** The library ISO image (its id), for source library-iso. */
    @FormParam("libraryIso")
    public String libraryIso;
    /** The blank disk to install on, in MiB, for source library-iso. */
    @FormParam("installDiskMib")
    public String installDiskMib;
    /** "bios" or "uefi"; empty for the default (BIOS). */
    @FormParam("firmware")
    public String firmware;
    @FormParam("image")
    public String image;
    @FormParam("format")
    public String format;
    @FormParam("name")
    public String name;
    @FormParam("vcpus")
    public String vcpus;
    @FormParam("memoryMib")
    public String memoryMib;
    /** An empty data disk to create with the VM, in MiB; empty for none. */
    @FormParam("diskMib")
    public String diskMib;
    @FormParam("profile")
    public String profile;
    /** The virtual switch for the VM's adapter; empty for its own isolated network. */
    @FormParam("network")
    public String network;
    /** "on" to start the VM once created. */
    @FormParam("start")
    public String start;

    /** The API's request, or every field that is not even a number where one is wanted (400). */
    VmRequest toRequest() {
        List<FieldError> v = new ArrayList<>();
        Integer cpus = number("vcpus", vcpus, v);
        Integer memory = number("memoryMib", memoryMib, v);
        Integer blank = number("diskMib", diskMib, v);
        String from = source == null ? "template" : source;
        Integer installOn = from.equals("library-iso") ? number("installDiskMib", installDiskMib, v) : null;
        if (from.equals("library-iso") && installOn == null && v.isEmpty()) {
            v.add(new FieldError("installDiskMib", "is required: the size of the disk to install on, in MiB"));
        }
        throwIfAny(v);
        List<VmRequest.DiskRequest> disks = new ArrayList<>();
        VmRequest.Boot boot = null;
        switch (from) {
            case "image" -> {
                disks.add(new VmRequest.DiskRequest(blankToNull(image), blankToNull(format), false, null));
                boot = new VmRequest.Boot("disk", null, null, null, null);
            }
            case "library-disk" -> {
                disks.add(new VmRequest.DiskRequest(null, null, false, null, required("libraryDisk", libraryDisk),
                        blankToNull(clone)));
                boot = new VmRequest.Boot("disk", null, null, null, null);
            }
            case "library-iso" -> {
                // The disk the guest is installed on comes first: once installed, it boots from it.
                disks.add(new VmRequest.DiskRequest(null, "qcow2", false, installOn.longValue()));
                boot = new VmRequest.Boot("iso", null, null, null, null, required("libraryIso", libraryIso));
            }
            default -> {
            }
        }
        if (blank != null && blank > 0) {
            disks.add(new VmRequest.DiskRequest(null, "qcow2", false, blank.longValue()));
        }
        boolean fromTemplate = boot == null;
        return new VmRequest(blankToNull(name), fromTemplate ? blankToNull(template) : null, cpus, memory, blankToNull(profile),
                null, boot, disks, blankToNull(network) == null ? null : List.of(new VmRequest.NicRequest(null, network.trim())),
                blankToNull(firmware), null);
    }

    /** A choice the chosen source needs; left empty, it is a violation of its field. */
    private static String required(String field, String value) {
        if (value == null || value.isBlank()) {
            throw new InvalidRequestException("VM definition", List.of(new FieldError(field, "is required: choose one from the library")));
        }
        return value.trim();
    }

    boolean startOnceCreated() {
        return "on".equals(start);
    }

    /** A whole number typed into a form field, or null when left empty. */
    static Integer number(String field, String value, List<FieldError> v) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return Integer.valueOf(value.trim());
        } catch (NumberFormatException e) {
            v.add(new FieldError(field, "must be a whole number; got '" + value + "'"));
            return null;
        }
    }

    static void throwIfAny(List<FieldError> v) {
        if (!v.isEmpty()) {
            throw new InvalidRequestException("VM definition", v);
        }
    }

    static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }
}
