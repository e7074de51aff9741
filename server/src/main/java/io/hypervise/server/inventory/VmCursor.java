package io.hypervise.server.inventory;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * Where a page of VMs ended: the last VM's name and id, in the list's order. Clients get it as the page's
 * {@code next} and send it back as {@code after}; it is opaque to them (base64url of the two).
 */
public record VmCursor(String name, String id) {

    private static final char SEPARATOR = '\u0000'; // no name holds it: PostgreSQL's text cannot

    /** The cursor just after this VM. */
    public static VmCursor of(VmEntity vm) {
        return new VmCursor(vm.name, vm.id);
    }

    public String encode() {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((name + SEPARATOR + id).getBytes(StandardCharsets.UTF_8));
    }

    /** The cursor the text is, or empty when it is not one this server gave. */
    public static Optional<VmCursor> decode(String text) {
        if (text == null || text.length() > 1000) {
            return Optional.empty();
        }
        String plain;
        try {
            plain = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        int at = plain.lastIndexOf(SEPARATOR);
        if (at < 1 || !VmRepository.wellFormed(plain.substring(at + 1))) {
            return Optional.empty();
        }
        return Optional.of(new VmCursor(plain.substring(0, at), plain.substring(at + 1)));
    }
}
