package io.hypervise.bench.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The tiny-linux guest as a Hypervise VM, driven through the REST API as a client would: each checkpoint
 * operation is timed from its request to its job's {@code succeeded}. Looking a checkpoint's id up by its name
 * and renewing the token happen before the clock starts.
 */
public final class HyperviseGuest implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServerApi api;
    private final String id;

    private HyperviseGuest(ServerApi api, String id) {
        this.api = api;
        this.id = id;
    }

    /** Creates the VM from the template, starts it and waits until the guest says it is ready (read over the API). */
    public static HyperviseGuest boot(ServerApi api, String name, int memoryMib, int diskMib) throws IOException, InterruptedException {
        String body = """
                {"template":"tiny-linux","name":"%s","memoryMib":%d,"display":"none","disks":[{"sizeMib":%d,"format":"qcow2"}]}"""
                .formatted(name, memoryMib, diskMib);
        HyperviseGuest guest = new HyperviseGuest(api, JSON.readTree(api.expect(201, "POST", "/api/v1/vms", body)).path("id").asText());
        try {
            api.awaitJob(api.expect(202, "POST", guest.vm("/start"), null));
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (!api.expect(200, "GET", guest.vm("/serial?lines=50"), null).contains(CheckpointBench.READY)) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("no " + CheckpointBench.READY + " on VM " + guest.id + "'s serial console within 2 minutes");
                }
                TimeUnit.MILLISECONDS.sleep(100);
            }
            return guest;
        } catch (IOException | InterruptedException | RuntimeException e) {
            try {
                guest.close();
            } catch (IOException | InterruptedException again) {
                e.addSuppressed(again);
            }
            throw e;
        }
    }

    public String id() {
        return id;
    }

    /** The VM's QEMU worker, as the API reports it. */
    public long workerPid() throws IOException, InterruptedException {
        return JSON.readTree(api.expect(200, "GET", vm(""), null)).path("workerPid").asLong();
    }

    /** One operation through the API: until its 202, the job as the server recorded it, and until the client saw it succeed. */
    record Timing(double accepted, double job, double seconds) {
    }

    Timing take(String name) throws IOException, InterruptedException {
        return timed("POST", vm("/checkpoints"), JSON.createObjectNode().put("name", name).toString());
    }

    Timing apply(String name) throws IOException, InterruptedException {
        return timed("POST", vm("/checkpoints/" + checkpoint(name).path("id").asText() + "/apply"), null);
    }

    Timing delete(String name) throws IOException, InterruptedException {
        return timed("DELETE", vm("/checkpoints/" + checkpoint(name).path("id").asText()), null);
    }

    private Timing timed(String method, String path, String json) throws IOException, InterruptedException {
        api.renewToken();
        long start = System.nanoTime();
        String accepted = api.expect(202, method, path, json);
        double acceptedSeconds = (System.nanoTime() - start) / 1e9;
        ServerApi.JobEnd end = api.awaitJob(accepted);
        return new Timing(acceptedSeconds, end.serverSeconds(), (System.nanoTime() - start) / 1e9);
    }

    /** What the checkpoint added to the disk files, as the server reports it. */
    long sizeBytes(String name) throws IOException, InterruptedException {
        return checkpoint(name).path("sizeBytes").asLong();
    }

    private JsonNode checkpoint(String name) throws IOException, InterruptedException {
        for (JsonNode c : JSON.readTree(api.expect(200, "GET", vm("/checkpoints"), null))) {
            if (c.path("name").asText().equals(name)) {
                return c;
            }
        }
        throw new IOException("VM " + id + " has no checkpoint named '" + name + "'");
    }

    /** The VM's API path with {@code rest} appended ("/disks", "/serial?lines=50"). */
    public String vm(String rest) {
        return "/api/v1/vms/" + URLEncoder.encode(id, StandardCharsets.UTF_8) + rest;
    }

    /** Turns the VM off (whatever state it is in) and deletes it with its disk. */
    @Override
    public void close() throws IOException, InterruptedException {
        api.send("POST", vm("/turn-off"), null);
        HttpResponse<String> deleted = api.send("DELETE", vm(""), null);
        if (deleted.statusCode() != 204) {
            throw new IOException("deleting VM " + id + ": " + deleted.statusCode() + " " + deleted.body());
        }
    }
}
