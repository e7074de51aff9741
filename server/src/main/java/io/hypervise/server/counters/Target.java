package io.hypervise.server.counters;

/** Whose counters: a VM or a host, by id; stored as 'vm:<id>' or 'host:<id>'. */
public record Target(Kind kind, String id) {

    public enum Kind {
        VM("vm"), HOST("host");

        final String prefix;

        Kind(String prefix) {
            this.prefix = prefix;
        }
    }

    public static Target vm(String id) {
        return new Target(Kind.VM, id);
    }

    public static Target host(String id) {
        return new Target(Kind.HOST, id);
    }

    String key() {
        return kind.prefix + ":" + id;
    }
}
