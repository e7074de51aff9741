package io.hypervise.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;

/**
 * One request to another host's server and what became of it, in words that name the host: its answer's body,
 * or a {@link PeerException} saying whether it could not be reached, did not answer in time, refused (its
 * status and reason passed on) or failed. Every call has a deadline to connect and one for the whole answer.
 * Plain Java, so its failure paths are tested against real sockets without a server around it.
 */
public final class PeerCall {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;

    public PeerCall(Duration connectTimeout) {
        this.http = HttpClient.newBuilder().connectTimeout(connectTimeout).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** Where another host's server is reached: its host's id and the address from its lease row. */
    public record Peer(String host, String address) {
    }

    /**
     * Sends {@code method path} with the JSON {@code body} (or none) and the bearer {@code token}, waiting at most
     * {@code timeout} for the whole answer; {@code what} says in the errors what was asked ("start VM 'x'").
     *
     * @return the body of a 2xx answer
     * @throws PeerException for anything else
     */
    public String send(Peer peer, String method, String path, String body, String token, Duration timeout, String what) {
        URI uri;
        try {
            uri = URI.create(peer.address() + path);
        } catch (IllegalArgumentException e) {
            throw new PeerException(peer.host(), PeerException.Failure.UNREACHABLE, "host " + peer.host()
                    + "'s server cannot be asked to " + what + ": its address '" + peer.address() + "' is not a URL");
        }
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout)
                .header("Authorization", "Bearer " + token)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build();
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (HttpConnectTimeoutException e) {
            throw new PeerException(peer.host(), PeerException.Failure.TIMED_OUT, "host " + peer.host() + "'s server at "
                    + peer.address() + " did not accept a connection within " + seconds(connectTimeout()) + " to " + what);
        } catch (HttpTimeoutException e) {
            throw new PeerException(peer.host(), PeerException.Failure.TIMED_OUT, "host " + peer.host() + "'s server at "
                    + peer.address() + " did not answer within " + seconds(timeout) + " when asked to " + what
                    + "; whether it did is not known: look at the VM again");
        } catch (ConnectException e) {
            throw new PeerException(peer.host(), PeerException.Failure.UNREACHABLE, "host " + peer.host() + "'s server at "
                    + peer.address() + " cannot be reached to " + what + ": connection refused (is its server running?)");
        } catch (IOException e) {
            throw new PeerException(peer.host(), PeerException.Failure.UNREACHABLE, "host " + peer.host() + "'s server at "
                    + peer.address() + " cannot be reached to " + what + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PeerException(peer.host(), PeerException.Failure.TIMED_OUT, "interrupted while asking host "
                    + peer.host() + "'s server to " + what);
        }
        int status = response.statusCode();
        if (status >= 200 && status < 300) {
            return response.body();
        }
        String reason = reason(response.body());
        if (status == 401 || status == 403) {
            throw new PeerException(peer.host(), PeerException.Failure.IDENTITY_REFUSED, "host " + peer.host()
                    + "'s server refused this server's service identity (" + status + ": " + reason + ") when asked to "
                    + what + "; check hypervise.cluster.service-client-id and -secret and that the client's service"
                    + " account has the realm role hypervise-host");
        }
        if (status >= 400 && status < 500) {
            throw PeerException.refused(peer.host(), status, "host " + peer.host() + "'s server refused to " + what + ": "
                    + reason);
        }
        throw new PeerException(peer.host(), PeerException.Failure.FAILED, "host " + peer.host() + "'s server failed to "
                + what + " (" + status + "): " + reason);
    }

    private Duration connectTimeout() {
        return http.connectTimeout().orElse(Duration.ZERO);
    }

    /** A problem document's detail, or the body itself (cut short) when it is not one. */
    static String reason(String body) {
        if (body == null || body.isBlank()) {
            return "no reason given";
        }
        try {
            JsonNode problem = JSON.readTree(body);
            if (problem.hasNonNull("detail")) {
                return problem.get("detail").asText();
            }
        } catch (IOException notJson) {
            // said in plain text
        }
        return body.length() > 300 ? body.substring(0, 300) + "…" : body;
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
