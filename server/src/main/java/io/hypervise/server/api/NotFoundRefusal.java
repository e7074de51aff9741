package io.hypervise.server.api;

/** Something the request names that is not there (or not there for this caller): a 404 saying what. */
public class NotFoundRefusal extends RequestRefusedException {

    public NotFoundRefusal(String detail) {
        super(404, detail);
    }
}
