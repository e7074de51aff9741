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

    /** "template", or "image" for a disk image under the storage root. */
    @FormParam("source")
    public String source;
    @FormParam("template")
    public String template;
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
        throwIfAny(v);
        List<VmRequest.DiskRequest> disks = new ArrayList<>();
        boolean fromImage = "image".equals(source);
        if (fromImage) {
            disks.add(new VmRequest.DiskRequest(blankToNull(image), blankToNull(format), false, null));
        }
        if (blank != null && blank > 0) {
            disks.add(new VmRequest.DiskRequest(null, "qcow2", false, blank.longValue()));
        }
        return new VmRequest(blankToNull(name), fromImage ? null : blankToNull(template), cpus, memory, blankToNull(profile),
                null, fromImage ? new VmRequest.Boot("disk", null, null, null, null) : null, disks,
                blankToNull(network) == null ? null : List.of(new VmRequest.NicRequest(null, network.trim())));
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
