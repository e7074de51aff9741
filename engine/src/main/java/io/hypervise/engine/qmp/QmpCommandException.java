package io.hypervise.engine.qmp;

/**
 * QEMU answered a command with an error response.
 *
 * @see <a href="https://www.qemu.org/docs/master/interop/qmp-spec.html#error">QMP spec: error</a>
 */
public final class QmpCommandException extends QmpException {

    private final String command;
    private final String errorClass;
    private final String description;

    public QmpCommandException(String command, String errorClass, String description) {
        super("QMP command '" + command + "' failed: " + errorClass + ": " + description);
        this.command = command;
        this.errorClass = errorClass;
        this.description = description;
    }

    public String command() {
        return command;
    }

    /** QEMU's error class, e.g. {@code GenericError}, {@code CommandNotFound}, {@code DeviceNotFound}. */
    public String errorClass() {
        return errorClass;
    }

    /** QEMU's human-readable description ({@code desc}). */
    public String description() {
        return description;
    }
}
