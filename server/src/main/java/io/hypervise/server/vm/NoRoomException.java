package io.hypervise.server.vm;

import io.hypervise.server.api.RequestRefusedException;

/** What a client sends would not fit in the storage root's free space: 413, with what it needs and what there is. */
public class NoRoomException extends RequestRefusedException {

    public NoRoomException(String detail) {
        super(413, detail);
    }
}
