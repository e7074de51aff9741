package io.hypervise.server.console;

/** A viewer sent something that is not RFB 3.8 as this bridge accepts it; the session ends. */
public class RfbProtocolException extends Exception {

    public RfbProtocolException(String message) {
        super(message);
    }
}
