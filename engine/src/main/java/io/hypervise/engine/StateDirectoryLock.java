package io.hypervise.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One engine per state directory. A worker accepts one QMP client at a time, so a second engine over
 * the same directory would find every worker silent and take them for hung; the lock makes it refuse to
 * start instead. The operating system releases the lock when the process dies, however it dies.
 */
final class StateDirectoryLock implements AutoCloseable {

    private final FileChannel channel;
    private final FileLock lock;

    private StateDirectoryLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    static StateDirectoryLock acquire(Path stateDir) throws IOException {
        Path file = stateDir.resolve("engine.lock");
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            String holder = Files.readString(file, StandardCharsets.UTF_8).trim();
            channel.close();
            throw new IllegalStateException("the state directory " + stateDir + " is in use by another engine"
                    + (holder.isEmpty() ? "" : " (process " + holder + ")")
                    + "; only one server may run per state directory");
        }
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8)), 0);
        return new StateDirectoryLock(channel, lock);
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot release the state directory lock", e);
        }
    }
}
