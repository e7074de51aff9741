package io.hypervise.server.library;

import io.hypervise.server.api.RequestRefusedException;
import java.util.Map;

/** Bytes sent for an upload from an offset where it does not stand, or while another request writes it: 409, with where it stands. */
public class UploadConflictException extends RequestRefusedException {

    private final long offset;

    public UploadConflictException(String detail, long offset) {
        super(409, detail);
        this.offset = offset;
    }

    public long offset() {
        return offset;
    }

    @Override
    public Map<String, ?> extensions() {
        return Map.of("offset", offset);
    }
}
