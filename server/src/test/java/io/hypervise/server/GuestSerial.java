package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The guest's own view, read as a user would: its serial console through the API. The tiny-linux guest prints
 * there what it sees change (disks, adapters, media), so tests wait for those lines.
 */
final class GuestSerial {

    private GuestSerial() {
    }

    /** The VM's serial console as the API gives it, up to its last 10000 lines. */
    static String serial(String vm) {
        return as("admin").when().get("/api/v1/vms/" + vm + "/serial?lines=10000").then().statusCode(200).extract().asString();
    }

    /** How many lines the console has now: what a later {@link #awaitSerialAfter} looks beyond. */
    static int lineCount(String vm) {
        return serial(vm).split("\n").length;
    }

    /** Waits (up to 2 minutes) for the guest to print the whole line {@code marker}. */
    static void awaitSerial(String vm, String marker) throws InterruptedException {
        awaitSerialAfter(vm, 0, marker);
    }

    /** Waits (up to 2 minutes) for the guest to print the whole line {@code marker} after line {@code from}. */
    static void awaitSerialAfter(String vm, int from, String marker) throws InterruptedException {
        String[] lines = new String[0];
        for (int i = 0; i < 400; i++) {
            lines = serial(vm).split("\n");
            for (int k = Math.max(0, Math.min(from, lines.length)); k < lines.length; k++) {
                if (lines[k].equals(marker)) {
                    return;
                }
            }
            TimeUnit.MILLISECONDS.sleep(300);
        }
        throw new AssertionError("the guest of " + vm + " did not print '" + marker + "' after line " + from
                + "; its serial console:\n" + String.join("\n", List.of(lines).subList(Math.max(0, lines.length - 60), lines.length)));
    }
}
