package io.hypervise.engine.network;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The host's IPv4 address on an internal switch, with the switch's prefix length, as in 10.77.0.1/24. */
public record HostAddress(int address, int prefix) {

    public static final int MIN_PREFIX = 8;
    public static final int MAX_PREFIX = 30;
    private static final Pattern CIDR = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})");

    /**
     * Parses "a.b.c.d/p".
     *
     * @throws NetworkException (INVALID) saying which rule the text breaks
     */
    public static HostAddress parse(String text) {
        Matcher m = text == null ? null : CIDR.matcher(text);
        if (m == null || !m.matches()) {
            throw invalid("must be an IPv4 address with a prefix length, e.g. 10.77.0.1/24");
        }
        int address = 0;
        for (int i = 1; i <= 4; i++) {
            int octet = Integer.parseInt(m.group(i));
            if (octet > 255) {
                throw invalid("has an octet above 255: " + text);
            }
            address = address << 8 | octet;
        }
        int prefix = Integer.parseInt(m.group(5));
        if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) {
            throw invalid("needs a prefix length from /" + MIN_PREFIX + " to /" + MAX_PREFIX + "; got /" + prefix);
        }
        HostAddress parsed = new HostAddress(address, prefix);
        int host = address & ~parsed.mask();
        if (host == 0 || host == ~parsed.mask()) {
            throw invalid("is the network's or broadcast address of " + parsed.network() + "; choose a host address in it");
        }
        int first = address >>> 24;
        if (first == 0 || first == 127 || first >= 224) {
            throw invalid("must be a unicast address outside 0.0.0.0/8 and 127.0.0.0/8");
        }
        return parsed;
    }

    private static NetworkException invalid(String rule) {
        return new NetworkException(NetworkException.Reason.INVALID, "hostAddress " + rule);
    }

    int mask() {
        return -1 << (32 - prefix);
    }

    /** The network the switch carries, e.g. 10.77.0.0/24. */
    public String network() {
        return dotted(address & mask()) + "/" + prefix;
    }

    @Override
    public String toString() {
        return dotted(address) + "/" + prefix;
    }

    private static String dotted(int a) {
        return (a >>> 24) + "." + (a >>> 16 & 255) + "." + (a >>> 8 & 255) + "." + (a & 255);
    }
}
