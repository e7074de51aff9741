package io.hypervise.server.database;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A short-lived program run to completion: an argument list, never a shell string, with its output kept. */
record Command(List<String> argv) {

    Command {
        argv = List.copyOf(argv);
    }

    static Command of(String... argv) {
        return new Command(List.of(argv));
    }

    /** What the program printed (stdout and stderr together) and how it ended. */
    record Result(int exitCode, String output) {
        boolean succeeded() {
            return exitCode == 0;
        }
    }

    Result run(Duration timeout) throws IOException {
        Process process = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        FutureTask<String> output = new FutureTask<>(() -> {
            try (InputStream in = process.getInputStream()) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        });
        Thread.ofVirtual().name("output of " + argv.getFirst()).start(output);
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new IOException(this + " did not finish within " + timeout.toSeconds() + " s");
            }
            return new Result(process.exitValue(), output.get(5, TimeUnit.SECONDS).strip());
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while running " + this);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("cannot read the output of " + this, e);
        }
    }

    /** Runs the program and returns its output, or fails with that output if it did not succeed. */
    String runOrThrow(Duration timeout) throws IOException {
        Result result = run(timeout);
        if (!result.succeeded()) {
            throw new IOException(this + " failed with exit code " + result.exitCode() + ": " + result.output());
        }
        return result.output();
    }

    @Override
    public String toString() {
        return "'" + String.join(" ", argv) + "'";
    }
}
