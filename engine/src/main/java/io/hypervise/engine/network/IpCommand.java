package io.hypervise.engine.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one of iproute2's commands ({@code ip}, or {@code tc} for traffic control): an argument list, never a
 * shell string; its complaint becomes the error.
 */
final class IpCommand {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long TIMEOUT_SECONDS = 10;

    private final String binary;

    IpCommand() {
        this("ip");
    }

    IpCommand(String binary) {
        this.binary = binary;
    }

    /** Runs {@code ip args…} (or the other command's); returns what it printed. */
    String run(String... args) {
        List<String> argv = new ArrayList<>();
        argv.add(binary);
        argv.addAll(List.of(args));
        String command = String.join(" ", argv);
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new NetworkException(NetworkException.Reason.FAILED, command + " did not finish within "
                        + TIMEOUT_SECONDS + " s");
            }
            String text = new String(out, StandardCharsets.UTF_8).strip();
            if (p.exitValue() != 0) {
                throw new NetworkException(NetworkException.Reason.FAILED, command + " failed: " + text);
            }
            return text;
        } catch (IOException e) {
            throw new NetworkException(NetworkException.Reason.UNAVAILABLE, "cannot run " + binary + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NetworkException(NetworkException.Reason.FAILED, command + " was interrupted", e);
        }
    }

    /** Runs {@code ip -json args…} and parses what it printed (an empty answer is an empty array). */
    JsonNode json(String... args) {
        List<String> all = new ArrayList<>();
        all.add("-json");
        all.addAll(List.of(args));
        String out = run(all.toArray(String[]::new));
        try {
            return out.isEmpty() ? JSON.createArrayNode() : JSON.readTree(out);
        } catch (IOException e) {
            throw new NetworkException(NetworkException.Reason.FAILED, binary + " " + String.join(" ", args)
                    + " printed something that is not JSON: " + out, e);
        }
    }
}
