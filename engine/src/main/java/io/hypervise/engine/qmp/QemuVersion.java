package io.hypervise.engine.qmp;

/**
 * The QEMU version a worker reports in its QMP greeting.
 *
 * @param packageName the distribution's package string, e.g. {@code Debian 1:7.2+dfsg-7+deb12u18+b3};
 *                    empty for an upstream build
 */
public record QemuVersion(int major, int minor, int micro, String packageName) {

    public boolean isAtLeast(int major, int minor) {
        return this.major > major || (this.major == major && this.minor >= minor);
    }

    @Override
    public String toString() {
        String version = major + "." + minor + "." + micro;
        return packageName.isEmpty() ? version : version + " (" + packageName + ")";
    }
}
