package io.hypervise.server.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.vm.VmOperation;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;

/**
 * The cluster's other servers, as this server asks them to act on the VMs their hosts own: found by the address
 * in their lease row (only while the lease is live), called as the hosts' service identity ({@link ServiceToken}),
 * each call with deadlines ({@code hypervise.cluster.peer.*}). Failures are {@link PeerException}s naming the host.
 */
@ApplicationScoped
public class PeerHosts {

    // A newer peer may say more than this server reads.
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    @Inject
    Cluster cluster;

    @Inject
    ServiceToken token;

    @Inject
    ServerConfig config;

    @Inject
    LocalHost localHost;

    private PeerCall call;

    @PostConstruct
    void init() {
        call = new PeerCall(config.cluster().peer().connectTimeout());
    }

    /**
     * Has host {@code host}'s server carry out the lifecycle {@code operation} on VM {@code vm}, waiting for it to
     * end there; the state the VM is in afterwards. Operations that run as jobs wait up to the job timeout.
     */
    public VmState act(String host, String vm, VmOperation operation, String requestedBy) {
        String body = write(new PeerApi.OperationRequest(operation, requestedBy, localHost.id()));
        Duration timeout = operation.runsAsJob() ? config.cluster().peer().jobTimeout() : config.cluster().peer().requestTimeout();
        String answer = send(host, "POST", PeerApi.ROOT + "/vms/" + vm + "/operations", body, timeout,
                operation.path() + " VM " + vm);
        return read(host, answer, PeerApi.OperationResult.class).state();
    }

    /** The last {@code lines} lines of VM {@code vm}'s serial console, from host {@code host}'s server. */
    public List<String> serial(String host, String vm, int lines) {
        String answer = send(host, "GET", PeerApi.ROOT + "/vms/" + vm + "/serial?lines=" + lines, null,
                config.cluster().peer().requestTimeout(), "read VM " + vm + "'s serial console");
        return read(host, answer, PeerApi.SerialLines.class).lines();
    }

    /**
     * Asks host {@code host}'s server to prepare to receive VM {@code vm} live: where its worker waits for the VM.
     * Waits up to the request timeout (the target starts a paused worker).
     */
    public PeerApi.Incoming prepareIncoming(String host, String vm, PeerApi.IncomingRequest request) {
        String answer = send(host, "POST", PeerApi.ROOT + "/vms/" + vm + "/incoming", write(request),
                config.cluster().peer().requestTimeout(), "prepare to receive VM " + vm);
        return read(host, answer, PeerApi.Incoming.class);
    }

    /** Asks host {@code host}'s server to resume VM {@code vm}, arrived there live; its state there afterwards. */
    public VmState finishIncoming(String host, String vm, PeerApi.FinishRequest request) {
        String answer = send(host, "POST", PeerApi.ROOT + "/vms/" + vm + "/incoming/finish", write(request),
                config.cluster().peer().requestTimeout(), "resume VM " + vm + ", arrived live");
        return read(host, answer, PeerApi.OperationResult.class).state();
    }

    /** Asks host {@code host}'s server to give up VM {@code vm}, which was arriving there: its worker and fresh images go. */
    public void abandonIncoming(String host, String vm) {
        send(host, "DELETE", PeerApi.ROOT + "/vms/" + vm + "/incoming", null, config.cluster().peer().requestTimeout(),
                "abandon VM " + vm + "'s arrival");
    }

    /**
     * Refuses (503, naming the host) at once when host {@code host}'s lease is not live or it has no address: nothing
     * would answer, so a job is not worth starting.
     */
    public void requireLive(String host, String what) {
        live(host, what);
    }

    private String send(String host, String method, String path, String body, Duration timeout, String what) {
        PeerCall.Peer peer = live(host, what);
        String bearer = bearer(host, what);
        try {
            return call.send(peer, method, path, body, bearer, timeout, what);
        } catch (PeerException e) {
            if (e.failure() != PeerException.Failure.IDENTITY_REFUSED) {
                throw e;
            }
            // The token may have been revoked or the peer's keys rotated: one new token, one more try.
            token.forget(bearer);
            return call.send(peer, method, path, body, bearer(host, what), timeout, what);
        }
    }

    /** Where host {@code host}'s server is, if its lease is live by the database's clock. */
    private PeerCall.Peer live(String host, String what) {
        ClusterMember member = cluster.member(host).orElseThrow(() -> new PeerException(host, PeerException.Failure.NOT_LIVE,
                "host " + host + " is not a host of the cluster, so it cannot be asked to " + what));
        HostLease lease = member.lease();
        if (lease.state() != LeaseState.LIVE) {
            throw new PeerException(host, PeerException.Failure.NOT_LIVE, switch (lease.state()) {
                case LEFT -> "host " + host + " left the cluster at " + lease.leftAt() + ", so it cannot be asked to " + what;
                default -> "host " + host + "'s lease " + (lease.expiresAt() == null ? "was never taken"
                        : "expired at " + lease.expiresAt()) + ": its server is not running or cannot reach the database,"
                        + " so it cannot be asked to " + what + " (its VMs keep running only if its server comes back)";
            });
        }
        if (member.address() == null || member.address().isBlank()) {
            throw new PeerException(host, PeerException.Failure.UNREACHABLE, "host " + host + " has recorded no address"
                    + " for its server (hypervise.cluster.address), so it cannot be asked to " + what);
        }
        return new PeerCall.Peer(host, member.address());
    }

    private String bearer(String host, String what) {
        try {
            return token.get();
        } catch (ServiceToken.UnavailableException e) {
            throw new PeerException(host, PeerException.Failure.NO_SERVICE_TOKEN, "host " + host
                    + "'s server cannot be asked to " + what + ": " + e.getMessage());
        }
    }

    private static String write(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value, e);
        }
    }

    private static <T> T read(String host, String body, Class<T> type) {
        try {
            return JSON.readValue(body, type);
        } catch (JsonProcessingException e) {
            throw new PeerException(host, PeerException.Failure.FAILED, "host " + host + "'s server answered something"
                    + " that is not a " + type.getSimpleName() + ": " + PeerCall.reason(body));
        }
    }
}
