package io.hypervise.engine.storage.vhd;

/** Told how far an import or export has come, after each chunk; {@code bytesDone} reaches {@code bytesTotal} at the end. */
@FunctionalInterface
public interface CopyProgress {

    CopyProgress NONE = (done, total) -> {
    };

    void advanced(long bytesDone, long bytesTotal);
}
