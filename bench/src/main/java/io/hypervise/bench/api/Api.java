package io.hypervise.bench.api;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

/** The server's REST API as the benchmark's clients call it: every request signed in, every answer read to its end. */
final class Api {

    private final HttpClient http;
    private final URI base;
    private final Tokens tokens;

    Api(HttpClient http, URI base, Tokens tokens) {
        this.http = http;
        this.base = base;
        this.tokens = tokens;
    }

    /** GET, expecting 200; the body is read and dropped. */
    void get(String pathAndQuery, String user) throws IOException, InterruptedException {
        expect(200, getRequest(pathAndQuery, user));
    }

    /** GET, expecting 200; the body. */
    String getText(String pathAndQuery, String user) throws IOException, InterruptedException {
        return new String(expect(200, getRequest(pathAndQuery, user)), StandardCharsets.UTF_8);
    }

    private HttpRequest getRequest(String pathAndQuery, String user) throws IOException, InterruptedException {
        return HttpRequest.newBuilder(base.resolve(pathAndQuery))
                .header("Authorization", tokens.bearer(user)).header("Accept", "application/json").GET().build();
    }

    /** POST /api/v1/vms with {@link BenchVm#json}, expecting 201. */
    void create(BenchVm vm) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(base.resolve("/api/v1/vms"))
                .header("Authorization", tokens.bearer(vm.owner())).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(vm.json())).build();
        expect(201, request);
    }

    private byte[] expect(int status, HttpRequest request) throws IOException, InterruptedException {
        HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        if (response.statusCode() != status) {
            String body = new String(response.body(), StandardCharsets.UTF_8);
            throw new IOException(request.method() + " " + request.uri() + " answered " + response.statusCode()
                    + " instead of " + status + ": " + body.substring(0, Math.min(300, body.length())));
        }
        return response.body();
    }
}
