package io.hypervise.bench.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The tiny-linux template's files as the server keeps them in its library, named by its {@code template.json}. */
public record TinyLinux(Path kernel, Path initramfs, String commandLine) {

    public static TinyLinux in(Path storageRoot) throws IOException {
        Path dir = storageRoot.resolve("library/tiny-linux");
        Path manifest = dir.resolve("template.json");
        if (!Files.isRegularFile(manifest)) {
            throw new IOException(manifest + " does not exist: the server builds the template on first use"
                    + " (bin/hypervise up, then wait for the demo VM), or set HYPERVISE_DATA_DIR to the server's data folder");
        }
        JsonNode t = new ObjectMapper().readTree(manifest.toFile());
        return new TinyLinux(dir.resolve(t.path("kernel").asText()), dir.resolve(t.path("initramfs").asText()),
                t.path("commandLine").asText());
    }
}
