package io.hypervise.server.jobs;

import io.hypervise.server.api.RequestRefusedException;

/** A request a job cannot take in its state, or here: 409, saying why. */
public class JobStateException extends RequestRefusedException {

    public JobStateException(String message) {
        super(409, message);
    }
}
