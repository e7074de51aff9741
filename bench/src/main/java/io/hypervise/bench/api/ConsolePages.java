package io.hypervise.bench.api;

import io.hypervise.bench.console.BrowserSignIn;
import io.hypervise.bench.console.LoopbackCookies;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** The admin console's requests as a signed-in browser sends them: with its session cookie, as htmx asks. */
final class ConsolePages {

    private final HttpClient http;
    private final URI base;

    private ConsolePages(HttpClient http, URI base) {
        this.http = http;
        this.base = base;
    }

    /** A browser signed in to the admin console as {@code user} (the demo users' passwords are their names). */
    static ConsolePages signIn(URI base, String user) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).cookieHandler(new LoopbackCookies())
                .followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(10)).build();
        BrowserSignIn.signIn(http, base.resolve("/admin"), user);
        return new ConsolePages(http, base);
    }

    /** GET as htmx sends it, expecting 200 from the server itself (not a redirect to sign in again); the body. */
    String get(String pathAndQuery) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(base.resolve(pathAndQuery)).header("HX-Request", "true").GET().build();
        HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        String body = new String(response.body(), StandardCharsets.UTF_8);
        if (response.statusCode() != 200 || !response.uri().getPath().equals(request.uri().getPath())) {
            throw new IOException("GET " + request.uri() + " answered " + response.statusCode() + " at " + response.uri()
                    + ": " + body.substring(0, Math.min(300, body.length())));
        }
        return body;
    }
}
