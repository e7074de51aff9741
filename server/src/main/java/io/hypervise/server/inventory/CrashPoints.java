package io.hypervise.server.inventory;

import java.util.Set;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

/**
 * Named points between the steps of an operation where the server can be made to die at once, as a
 * kill -9 would kill it there: how the tests prove that every step is recoverable. Set
 * {@code hypervise.crash-at} to a comma-separated list of names; unset (always, in production) nothing
 * happens. Halting skips shutdown hooks, so nothing tidies up after the "crash".
 */
public final class CrashPoints {

    private static final Logger LOG = Logger.getLogger(CrashPoints.class);
    private static final Set<String> ARMED = Set.of(ConfigProvider.getConfig()
            .getOptionalValue("hypervise.crash-at", String.class).orElse("").split("\\s*,\\s*"));

    private CrashPoints() {
    }

    /** Dies here if this point is armed. */
    public static void reached(String name) {
        if (ARMED.contains(name)) {
            LOG.errorf("crash point %s reached: halting now, as hypervise.crash-at asks", name);
            Runtime.getRuntime().halt(137);
        }
    }
}
