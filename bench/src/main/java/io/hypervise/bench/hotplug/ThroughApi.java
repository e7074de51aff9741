package io.hypervise.bench.hotplug;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.bench.checkpoint.HyperviseGuest;
import io.hypervise.bench.checkpoint.ServerApi;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Hot-adding and removing a blank qcow2 disk on the running VM as a client would: {@code POST …/disks}, then
 * {@code DELETE …/disks/{position}}, each timed from its request until the VM's serial console, read through
 * the API, shows the guest's line. Renewing the token and marking where the console stands happen before the
 * clock starts.
 */
final class ThroughApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Enough for the minute a cycle may wait: the guest prints a counter line each second. */
    private static final int TAIL = 200;

    private final ServerApi api;
    private final HyperviseGuest vm;

    ThroughApi(ServerApi api, HyperviseGuest vm) {
        this.api = api;
        this.vm = vm;
    }

    /** Adds the disk, and removes it after {@code beforeRemove} (with the guest's line for the add already seen). */
    Cycle cycle(int sizeMib, Duration beforeRemove) throws IOException, InterruptedException {
        api.renewToken();
        GuestLines added = since(lastCounterLine());
        long start = System.nanoTime();
        String answer = api.expect(200, "POST", vm.vm("/disks"), """
                {"sizeMib":%d,"format":"qcow2"}""".formatted(sizeMib));
        double addAnswered = seconds(start);
        int position = JSON.readTree(answer).path("disks").size() - 1;
        String disk = added.await(Pattern.compile("hv-disk (vd[a-z]+) " + sizeMib * 1048576L)).group(1);
        double addSeen = seconds(start);

        TimeUnit.MILLISECONDS.sleep(beforeRemove.toMillis());
        api.renewToken();
        GuestLines removed = since(lastCounterLine());
        start = System.nanoTime();
        api.expect(200, "DELETE", vm.vm("/disks/" + position), null);
        double removeAnswered = seconds(start);
        removed.await(Pattern.compile("hv-disk-gone " + disk));
        return new Cycle(disk, addAnswered, addSeen, removeAnswered, seconds(start));
    }

    /** The guest's last "hv-counter N" line: printed once a second with N counting up, so it is found only once. */
    private String lastCounterLine() throws IOException, InterruptedException {
        List<String> lines = tail();
        for (int i = lines.size() - 1; i >= 0; i--) {
            if (lines.get(i).startsWith("hv-counter ")) {
                return lines.get(i);
            }
        }
        throw new IOException("VM " + vm.id() + "'s serial console shows no hv-counter line in its last " + TAIL + " lines");
    }

    /** The lines after {@code mark} in the console's tail. */
    private GuestLines since(String mark) {
        return () -> {
            List<String> lines = tail();
            int at = lines.lastIndexOf(mark);
            if (at < 0) {
                throw new IOException("'" + mark + "' is no longer among the last " + TAIL + " lines of VM " + vm.id() + "'s serial console");
            }
            return lines.subList(at + 1, lines.size());
        };
    }

    private List<String> tail() throws IOException, InterruptedException {
        return Arrays.stream(api.expect(200, "GET", vm.vm("/serial?lines=" + TAIL), null).split("\n")).map(String::strip).toList();
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }
}
