package io.hypervise.bench.hotplug;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervise.bench.checkpoint.BareGuest;
import io.hypervise.bench.checkpoint.QmpSocket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The same disk hot-added and removed by hand on the bare QEMU, with the commands the engine sends and
 * nothing else: {@code qemu-img create}, one {@code blockdev-add} (the qcow2 node over its file node, the
 * format explicit, no backing file), {@code device_add} of a virtio-blk-pci into the empty root port
 * {@code hotplug0}; then {@code device_del}, QEMU's {@code DEVICE_DELETED} once the guest let go,
 * {@code blockdev-del} and the image deleted. Each is timed until the guest's line appears in the serial log.
 */
final class ByHand {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration COMMAND = Duration.ofSeconds(10);
    /** As long as the engine gives a guest to let go of a disk. */
    private static final Duration UNPLUG = Duration.ofSeconds(30);
    private static final String NODE = "disk1";
    private static final String DEVICE = "dev-" + NODE;

    private final BareGuest guest;
    private final Path image;

    ByHand(BareGuest guest, Path dir) {
        this.guest = guest;
        this.image = dir.resolve(NODE + ".qcow2");
    }

    /** Adds the disk, and removes it after {@code beforeRemove} (with the guest's line for the add already seen). */
    Cycle cycle(int sizeMib, Duration beforeRemove) throws IOException, InterruptedException {
        QmpSocket qmp = guest.qmp();
        qmp.drainSeen();
        GuestLines added = since(Files.size(guest.serialLog()));
        long start = System.nanoTime();
        BareGuest.run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), Long.toString(sizeMib * 1048576L));
        ObjectNode node = JSON.createObjectNode().put("node-name", NODE).put("driver", "qcow2").put("read-only", false);
        node.putObject("file").put("driver", "file").put("filename", image.toString());
        node.putNull("backing");
        qmp.execute("blockdev-add", node, COMMAND);
        qmp.execute("device_add", JSON.createObjectNode().put("driver", "virtio-blk-pci").put("id", DEVICE)
                .put("bus", "hotplug0").put("drive", NODE), COMMAND);
        double addAnswered = seconds(start);
        String disk = added.await(Pattern.compile("hv-disk (vd[a-z]+) " + sizeMib * 1048576L)).group(1);
        double addSeen = seconds(start);

        TimeUnit.MILLISECONDS.sleep(beforeRemove.toMillis());
        GuestLines removed = since(Files.size(guest.serialLog()));
        start = System.nanoTime();
        qmp.execute("device_del", JSON.createObjectNode().put("id", DEVICE), COMMAND);
        qmp.awaitEvent(e -> e.path("event").asText().equals("DEVICE_DELETED")
                && e.path("data").path("device").asText().equals(DEVICE), UNPLUG);
        qmp.execute("blockdev-del", JSON.createObjectNode().put("node-name", NODE), COMMAND);
        Files.delete(image);
        double removeAnswered = seconds(start);
        removed.await(Pattern.compile("hv-disk-gone " + disk));
        return new Cycle(disk, addAnswered, addSeen, removeAnswered, seconds(start));
    }

    /** The complete lines the serial log gained after its first {@code offset} bytes. */
    private GuestLines since(long offset) {
        return () -> {
            String text;
            try (SeekableByteChannel log = Files.newByteChannel(guest.serialLog())) {
                ByteBuffer bytes = ByteBuffer.allocate((int) Math.max(0, log.size() - offset));
                log.position(offset);
                while (bytes.hasRemaining() && log.read(bytes) > 0) {
                    // until the buffer is full: the log only grows
                }
                text = new String(bytes.array(), 0, bytes.position(), StandardCharsets.ISO_8859_1);
            }
            int end = text.lastIndexOf('\n');
            return end < 0 ? List.of() : Arrays.stream(text.substring(0, end).split("\n")).map(String::strip).toList();
        };
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }
}
