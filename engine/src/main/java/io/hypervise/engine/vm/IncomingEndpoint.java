package io.hypervise.engine.vm;

import java.util.Map;

/**
 * Where the source of a live migration sends: the VM's memory to {@code host:ramPort}; each local disk (by
 * position) to the NBD export of that name at {@code host:nbdPort}. No exports: every disk is on shared storage.
 */
public record IncomingEndpoint(String host, int ramPort, int nbdPort, Map<Integer, String> exports) {

    public IncomingEndpoint {
        exports = Map.copyOf(exports);
    }

    public boolean copiesDisks() {
        return !exports.isEmpty();
    }
}
