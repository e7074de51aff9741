package io.hypervise.engine.storage;

import io.hypervise.engine.EngineException;

/** A disk image's header is not what its declared format says, or is damaged; the message says how. */
public final class MalformedImageException extends EngineException {

    public MalformedImageException(String message) {
        super(message);
    }
}
