package io.hypervise.server.library;

import io.hypervise.server.api.RequestRefusedException;

/**
 * An upload or import that would not fit: the uploader's library quota, or the host's free space (less
 * the reserve the library always leaves). 413, with what is in use and what was asked for.
 */
public class LibraryFullException extends RequestRefusedException {

    public LibraryFullException(String detail) {
        super(413, detail);
    }
}
