package io.hypervise.engine.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * One message from the QMP server, classified by the member that identifies it in the spec:
 * {@code QMP} (greeting), {@code return} or {@code error} (reply), {@code event}.
 *
 * @see <a href="https://www.qemu.org/docs/master/interop/qmp-spec.html">QMP specification</a>
 */
sealed interface QmpMessage {

    record Greeting(QmpGreeting greeting) implements QmpMessage {
    }

    record Event(QmpEvent event) implements QmpMessage {
    }

    /** A reply to a command; {@code id} is the one the client sent, or null if QEMU could not tell. */
    sealed interface Reply extends QmpMessage {
        JsonNode id();
    }

    record Success(JsonNode id, JsonNode value) implements Reply {
    }

    record Failure(JsonNode id, String errorClass, String description) implements Reply {
    }

    /** A JSON object this client does not know; kept so it can be logged, never fatal. */
    record Unknown(JsonNode raw) implements QmpMessage {
    }

    static QmpMessage parse(JsonNode node) throws QmpProtocolException {
        if (!node.isObject()) {
            throw new QmpProtocolException("expected a JSON object from QMP, got: " + node);
        }
        if (node.has("QMP")) {
            return new Greeting(greeting(node));
        }
        if (node.has("event")) {
            return new Event(event(node));
        }
        JsonNode id = node.get("id");
        if (node.has("return")) {
            return new Success(id, node.get("return"));
        }
        if (node.has("error")) {
            JsonNode error = node.get("error");
            return new Failure(id, error.path("class").asText("UnknownError"), error.path("desc").asText(""));
        }
        return new Unknown(node);
    }

    private static QmpGreeting greeting(JsonNode node) throws QmpProtocolException {
        JsonNode version = node.path("QMP").path("version");
        JsonNode qemu = version.path("qemu");
        if (!qemu.path("major").isInt() || !qemu.path("minor").isInt() || !qemu.path("micro").isInt()) {
            throw new QmpProtocolException("QMP greeting lacks QEMU's version: " + node);
        }
        List<String> capabilities = new ArrayList<>();
        node.path("QMP").path("capabilities").forEach(capability -> capabilities.add(capability.asText()));
        QemuVersion qemuVersion = new QemuVersion(qemu.get("major").asInt(), qemu.get("minor").asInt(),
                qemu.get("micro").asInt(), version.path("package").asText("").strip());
        return new QmpGreeting(qemuVersion, capabilities);
    }

    private static QmpEvent event(JsonNode node) {
        // Events without data (STOP, RESUME) omit the member; an empty object lets callers use path().
        JsonNode data = node.has("data") ? node.get("data") : JsonNodeFactory.instance.objectNode();
        return new QmpEvent(node.get("event").asText(), data, timestamp(node.path("timestamp")));
    }

    private static Instant timestamp(JsonNode timestamp) {
        if (!timestamp.path("seconds").canConvertToLong()) {
            // The spec promises a timestamp; if one is missing, the time we read it is the best we know.
            return Instant.now();
        }
        long seconds = timestamp.get("seconds").asLong();
        long micros = timestamp.path("microseconds").asLong(0);
        return Instant.ofEpochSecond(seconds, micros * 1_000);
    }
}
