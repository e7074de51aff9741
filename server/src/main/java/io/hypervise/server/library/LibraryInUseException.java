package io.hypervise.server.library;

import io.hypervise.server.api.RequestRefusedException;

/** A library item that VMs still use cannot be deleted: 409, naming them. */
public class LibraryInUseException extends RequestRefusedException {

    public LibraryInUseException(String detail) {
        super(409, detail);
    }
}
