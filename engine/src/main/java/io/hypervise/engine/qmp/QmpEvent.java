package io.hypervise.engine.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Objects;

/**
 * An asynchronous QMP event such as {@code STOP}, {@code RESUME} or {@code SHUTDOWN}.
 *
 * @param name      the event name as QEMU spells it
 * @param data      the event's {@code data}; an empty object for events that carry none
 * @param timestamp when QEMU emitted the event (its wall clock, microsecond precision)
 * @see <a href="https://www.qemu.org/docs/master/interop/qmp-spec.html#asynchronous-events">QMP spec: events</a>
 */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {

    public QmpEvent {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(timestamp, "timestamp");
    }
}
