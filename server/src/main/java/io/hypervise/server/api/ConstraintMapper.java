package io.hypervise.server.api;

import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.Map;
import org.hibernate.exception.ConstraintViolationException;

/** A request that conflicts with what the inventory already holds: 409, in words. */
@Provider
public class ConstraintMapper implements ExceptionMapper<ConstraintViolationException> {

    private static final Map<String, String> EXPLAINED = Map.of(
            "nics_mac_key", "nics: another VM already has a network adapter with this MAC address",
            "disks_writable_path_key", "disks: this image is already attached, writable, to another VM",
            "vms_pkey", "id: a VM with this id exists already",
            "switches_pkey", "id: a virtual switch with this id exists already",
            "switches_name_key", "name: this host has a virtual switch with this name already",
            "nics_switch_fkey", "the virtual switch still has VM network adapters plugged in; remove those VMs' adapters first");

    @Override
    public Response toResponse(ConstraintViolationException e) {
        String name = e.getConstraintName() == null ? "" : e.getConstraintName();
        return Problem.response(409, EXPLAINED.getOrDefault(name, "the request conflicts with the inventory (rule " + name + ")"));
    }
}
