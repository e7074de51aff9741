package io.hypervise.bench.hotplug;

import io.hypervise.bench.checkpoint.ServerApi;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the guest printed on its serial console since a point chosen before the clock started, looked at every
 * {@link ServerApi#pollInterval()} (20 ms by default) until a line matches: the guest itself checks for new and
 * gone disks only once a second, so that is the resolution that matters.
 */
@FunctionalInterface
interface GuestLines {

    Duration PATIENCE = Duration.ofSeconds(60);

    /** The complete lines printed since the point, stripped of the serial port's carriage returns. */
    List<String> sinceMark() throws IOException, InterruptedException;

    /** The first line since the point that matches {@code wanted} in full. */
    default Matcher await(Pattern wanted) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (true) {
            for (String line : sinceMark()) {
                Matcher m = wanted.matcher(line);
                if (m.matches()) {
                    return m;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("the guest printed no line like '" + wanted + "' within " + PATIENCE.toSeconds() + " s");
            }
            TimeUnit.NANOSECONDS.sleep(ServerApi.pollInterval().toNanos());
        }
    }
}
