package io.hypervise.engine.vm.worker;

/**
 * Encodes values for QEMU's option syntax, which splits {@code key=value} lists at commas: a comma
 * inside a value must be doubled. Values that cannot be encoded safely are refused.
 */
final class QemuArgs {

    private QemuArgs() {
    }

    static String optionValue(String value) {
        if (value.chars().anyMatch(c -> c == 0 || c == '\n' || c == '\r')) {
            throw new IllegalArgumentException("value contains a NUL or line break: " + value);
        }
        return value.replace(",", ",,");
    }
}
