package io.hypervise.engine.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Classifying what QEMU 7.2 sends, message by message, from the recorded transcripts. */
class QmpMessageTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static QmpMessage parse(String json) throws Exception {
        return QmpMessage.parse(JSON.readTree(json));
    }

    @ParameterizedTest
    @ValueSource(strings = {"handshake.qmp", "lifecycle.qmp", "errors.qmp", "before-negotiation.qmp",
            "worker-died.qmp", "late-reply.qmp", "dies-mid-command.qmp"})
    void everyRecordedServerMessageIsUnderstood(String transcript) throws Exception {
        List<JsonNode> messages = Transcript.load(transcript).serverMessages();
        assertThat(QmpMessage.parse(messages.getFirst())).isInstanceOf(QmpMessage.Greeting.class);
        for (JsonNode message : messages) {
            assertThat(QmpMessage.parse(message)).as(message.toString()).isNotInstanceOf(QmpMessage.Unknown.class);
        }
    }

    @Test
    void greetingCarriesVersionAndCapabilities() throws Exception {
        QmpMessage greeting = QmpMessage.parse(Transcript.load("handshake.qmp").greeting());

        assertThat(greeting).isEqualTo(new QmpMessage.Greeting(new QmpGreeting(
                new QemuVersion(7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18+b3"), List.of("oob"))));
    }

    @Test
    void greetingWithoutVersionIsAProtocolError() {
        assertThatThrownBy(() -> parse("{\"QMP\": {\"capabilities\": []}}"))
                .isInstanceOf(QmpProtocolException.class)
                .hasMessageContaining("lacks QEMU's version");
    }

    @Test
    void upstreamBuildHasAnEmptyPackage() throws Exception {
        QmpMessage greeting = parse("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 1, \"major\": 9},"
                + " \"package\": \"\"}, \"capabilities\": [\"oob\"]}}");

        QemuVersion version = ((QmpMessage.Greeting) greeting).greeting().version();
        assertThat(version).hasToString("9.1.0");
        assertThat(version.isAtLeast(7, 2)).isTrue();
        assertThat(version.isAtLeast(9, 2)).isFalse();
        assertThat(version.isAtLeast(10, 0)).isFalse();
    }

    @Test
    void successReplyKeepsIdAndReturnValue() throws Exception {
        QmpMessage reply = parse("{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false},"
                + " \"id\": 2}");

        assertThat(reply).isInstanceOfSatisfying(QmpMessage.Success.class, success -> {
            assertThat(success.id().asLong()).isEqualTo(2);
            assertThat(success.value().get("status").asText()).isEqualTo("prelaunch");
        });
    }

    @Test
    void errorReplyKeepsClassAndDescription() throws Exception {
        QmpMessage reply = parse("{\"id\": 3, \"error\": {\"class\": \"DeviceNotFound\","
                + " \"desc\": \"Device 'missing-nic' not found\"}}");

        assertThat(reply).isEqualTo(new QmpMessage.Failure(JSON.valueToTree(3), "DeviceNotFound",
                "Device 'missing-nic' not found"));
    }

    @Test
    void errorForAnUnparsableRequestHasNoId() throws Exception {
        // As QEMU 7.2 answered the malformed request {"garbage followed by a newline.
        QmpMessage reply = parse("{\"error\": {\"class\": \"GenericError\","
                + " \"desc\": \"JSON parse error, stray '\\\"garbage\\n'\"}}");

        assertThat(reply).isInstanceOfSatisfying(QmpMessage.Failure.class, failure -> {
            assertThat(failure.id()).isNull();
            assertThat(failure.errorClass()).isEqualTo("GenericError");
        });
    }

    @Test
    void eventWithoutDataGetsAnEmptyObjectAndAMicrosecondTimestamp() throws Exception {
        QmpMessage event = parse("{\"timestamp\": {\"seconds\": 1795570400, \"microseconds\": 871531},"
                + " \"event\": \"RESUME\"}");

        assertThat(event).isInstanceOfSatisfying(QmpMessage.Event.class, resume -> {
            assertThat(resume.event().name()).isEqualTo("RESUME");
            assertThat(resume.event().data().isObject()).isTrue();
            assertThat(resume.event().data().isEmpty()).isTrue();
            assertThat(resume.event().timestamp()).isEqualTo(Instant.ofEpochSecond(1795570400, 871_531_000));
        });
    }

    @Test
    void shutdownEventKeepsItsData() throws Exception {
        QmpEvent shutdown = Transcript.load("lifecycle.qmp").serverMessages().stream()
                .filter(message -> message.has("event"))
                .map(message -> {
                    try {
                        return ((QmpMessage.Event) QmpMessage.parse(message)).event();
                    } catch (QmpProtocolException e) {
                        throw new AssertionError(e);
                    }
                })
                .reduce((first, second) -> second)
                .orElseThrow();

        assertThat(shutdown.name()).isEqualTo("SHUTDOWN");
        assertThat(shutdown.data().get("reason").asText()).isEqualTo("host-qmp-quit");
    }

    @Test
    void unknownObjectsAreKeptNotFatal() throws Exception {
        assertThat(parse("{\"something-new\": 1}")).isInstanceOf(QmpMessage.Unknown.class);
    }

    @Test
    void nonObjectsAreProtocolErrors() {
        Stream.of("[1, 2]", "\"QMP\"", "42").forEach(json ->
                assertThatThrownBy(() -> parse(json)).isInstanceOf(QmpProtocolException.class));
    }

    @Test
    void durationsReadLikeAPersonWroteThem() {
        assertThat(Durations.format(Duration.ofMillis(300))).isEqualTo("300 ms");
        assertThat(Durations.format(Duration.ofSeconds(5))).isEqualTo("5 s");
        assertThat(Durations.toNanos(Duration.ofDays(Long.MAX_VALUE / 86_400))).isEqualTo(Long.MAX_VALUE);
    }
}
