package io.hypervise.engine.vm;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.hypervise.engine.host.UefiFirmware;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.worker.VmFiles;
import io.hypervise.engine.vm.worker.WorkerRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The engine's state on disk: one folder per VM holding its definition, its worker's record, its
 * saved state and, for a UEFI VM, its firmware's variables. Every file is written to a temporary name and renamed, so a crash leaves either the
 * old or the new version, never half of one.
 */
final class VmStore {

    private static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private final Path vmsDir;

    VmStore(Path stateDir) {
        this.vmsDir = stateDir.resolve("vms");
        try {
            Files.createDirectories(vmsDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the engine's state directory " + vmsDir, e);
        }
    }

    VmFiles filesOf(String vmId) {
        return new VmFiles(vmsDir.resolve(vmId));
    }

    List<VmFiles> all() {
        try (Stream<Path> dirs = Files.list(vmsDir)) {
            List<VmFiles> result = new ArrayList<>();
            dirs.filter(Files::isDirectory).sorted().forEach(d -> result.add(new VmFiles(d)));
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + vmsDir, e);
        }
    }

    void create(VmFiles files) throws IOException {
        Files.createDirectories(files.dir());
    }

    void delete(VmFiles files) throws IOException {
        FileTrees.delete(files.dir());
    }

    void writeDefinition(VmFiles files, VmDefinition def) {
        write(files.definition(), def);
    }

    Optional<VmDefinition> readDefinition(VmFiles files) {
        return read(files.definition(), VmDefinition.class);
    }

    /** Gives the VM its own copy of the UEFI variable store, unless it has one: never a file VMs share. */
    void ensureUefiVariables(VmFiles files, UefiFirmware firmware) {
        if (Files.isRegularFile(files.uefiVariables())) {
            return;
        }
        try {
            firmware.copyVariablesTo(files.uefiVariables());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy the UEFI variables " + firmware.variablesTemplate() + " to "
                    + files.uefiVariables(), e);
        }
    }

    void writeWorker(VmFiles files, WorkerRecord record) {
        write(files.worker(), record);
    }

    Optional<WorkerRecord> readWorker(VmFiles files) {
        return read(files.worker(), WorkerRecord.class);
    }

    /** Forgets the worker: its record and the sockets it leaves behind. */
    void clearWorker(VmFiles files) {
        try {
            Files.deleteIfExists(files.worker());
            Files.deleteIfExists(files.qmpSocket());
            Files.deleteIfExists(files.vncSocket());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the worker files in " + files.dir(), e);
        }
    }

    void writeState(VmFiles files, StateRecord state) {
        write(files.state(), state);
    }

    Optional<StateRecord> readState(VmFiles files) {
        return read(files.state(), StateRecord.class);
    }

    void writeSaved(VmFiles files, SavedState saved) {
        write(files.savedInfo(), saved);
    }

    /** The completed save, if there is one: its record and its state file both exist. */
    Optional<SavedState> readSaved(VmFiles files) {
        if (!Files.isRegularFile(files.savedState())) {
            return Optional.empty();
        }
        return read(files.savedInfo(), SavedState.class);
    }

    /** Removes a save that never completed: without its record a partial state file is worthless. */
    void clearPartialSave(VmFiles files) {
        try {
            Files.deleteIfExists(files.savedStatePartial());
            Files.deleteIfExists(files.saveSocket());
            Files.deleteIfExists(files.restoreSocket());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the unfinished save in " + files.dir(), e);
        }
    }

    void clearSaved(VmFiles files) {
        try {
            Files.deleteIfExists(files.savedInfo());
            Files.deleteIfExists(files.savedState());
            Files.deleteIfExists(files.savedStatePartial());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the saved state in " + files.dir(), e);
        }
    }

    private static void write(Path file, Object value) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            JSON.writeValue(tmp.toFile(), value);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static <T> Optional<T> read(Path file, Class<T> type) {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(file.toFile(), type));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
