package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.EngineException;

/** A disk cannot be written as a VHD (it is empty, or larger than the format allows). */
public final class VhdExportException extends EngineException {

    public VhdExportException(String message) {
        super(message);
    }
}
