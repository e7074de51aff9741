package io.hypervise.engine.qmp;

import java.util.List;

/**
 * What QEMU announces when a client connects.
 *
 * @param capabilities the optional protocol capabilities QEMU offers (e.g. {@code oob}); this client
 *                     enables none of them
 * @see <a href="https://www.qemu.org/docs/master/interop/qmp-spec.html#server-greeting">QMP spec: greeting</a>
 */
public record QmpGreeting(QemuVersion version, List<String> capabilities) {

    public QmpGreeting {
        capabilities = List.copyOf(capabilities);
    }
}
