package io.hypervise.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateDirectoryLockTest {

    @TempDir
    Path tmp;

    @Test
    void aSecondEngineOverTheSameStateDirectoryIsRefusedUntilTheFirstCloses() throws Exception {
        Path state = Files.createTempDirectory(Path.of("/tmp"), "hvl");
        try {
            EngineConfig config = EngineConfig.defaults(state, tmp.resolve("storage"));
            try (Engine first = Engine.open(config)) {
                assertThatThrownBy(() -> Engine.open(config))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("is in use by another engine (process " + ProcessHandle.current().pid() + ")");
                assertThat(first.vms().list()).isEmpty();
            }
            Engine.open(config).close();
        } finally {
            Files.deleteIfExists(state.resolve("engine.lock"));
            Files.deleteIfExists(state.resolve("vms"));
            Files.deleteIfExists(state.resolve("worker-root")); // where confined workers' roots are mounted
            Files.delete(state);
        }
    }
}
