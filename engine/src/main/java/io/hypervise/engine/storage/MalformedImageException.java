package io.hypervise.engine.storage;

import java.io.IOException;

/** A disk image's header is not what its declared format says, or is damaged; the message says how. */
public final class MalformedImageException extends IOException {

    public MalformedImageException(String message) {
        super(message);
    }
}
