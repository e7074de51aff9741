package io.hypervise.engine.qmp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A QMP conversation from src/test/resources/qmp; the format is described in its README.md. */
record Transcript(String name, List<Step> steps) {

    private static final ObjectMapper JSON = new ObjectMapper();

    sealed interface Step {
    }

    /** The client must send this (compared without its id). */
    record ClientSends(JsonNode message, int line) implements Step {
    }

    record ServerSends(JsonNode message) implements Step {
    }

    record ServerCloses() implements Step {
    }

    static Transcript load(String name) {
        try (InputStream in = Transcript.class.getResourceAsStream("/qmp/" + name)) {
            if (in == null) {
                throw new IllegalArgumentException("no transcript /qmp/" + name + " on the test classpath");
            }
            return parse(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Transcript parse(String name, String text) {
        List<Step> steps = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            int number = i + 1;
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("> ")) {
                steps.add(new ClientSends(json(name, number, line.substring(2)), number));
            } else if (line.startsWith("< ")) {
                steps.add(new ServerSends(json(name, number, line.substring(2))));
            } else if (line.equals("! eof") || line.equals("! reset")) {
                steps.add(new ServerCloses());
            } else {
                throw new IllegalArgumentException(name + ":" + number + ": not a transcript line: " + line);
            }
        }
        return new Transcript(name, List.copyOf(steps));
    }

    /** Every message the server sends, in order. */
    List<JsonNode> serverMessages() {
        return steps.stream()
                .filter(ServerSends.class::isInstance)
                .map(step -> ((ServerSends) step).message())
                .toList();
    }

    /** The greeting line, for fakes that script the rest of a conversation themselves. */
    JsonNode greeting() {
        return serverMessages().getFirst();
    }

    private static JsonNode json(String name, int line, String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(name + ":" + line + ": not JSON: " + text, e);
        }
    }
}
