package io.hypervise.server.console;

import io.hypervise.server.access.SignedOutSessions;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.vm.VmOperation;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.websockets.next.CloseReason;
import io.quarkus.websockets.next.OnBinaryMessage;
import io.quarkus.websockets.next.OnClose;
import io.quarkus.websockets.next.OnError;
import io.quarkus.websockets.next.OnOpen;
import io.quarkus.websockets.next.OpenConnections;
import io.quarkus.websockets.next.WebSocket;
import io.quarkus.websockets.next.WebSocketConnection;
import io.smallrye.common.annotation.RunOnVirtualThread;
import io.vertx.core.buffer.Buffer;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * A VM's console: RFB 3.8 over WebSocket (subprotocol {@code binary}, as noVNC asks), bridged to the
 * VM worker's display socket. {@link ConsoleHandshake} has authorised the viewer before this opens;
 * each session is audited when it opens ({@code vm.console.open}) and when it ends
 * ({@code vm.console.close}, with its duration, bytes and whether it was view-only). A session ends when
 * its viewer signs out.
 */
@WebSocket(path = "/console/{id}/websockify")
public class ConsoleEndpoint {

    /** RFC 6455 close codes the viewer sees. */
    static final short NORMAL = 1000;
    static final short PROTOCOL_ERROR = 1002;
    static final short UNAVAILABLE = 1011;

    private static final Logger LOG = Logger.getLogger(ConsoleEndpoint.class);

    @Inject
    AuditLog audit;

    @Inject
    OpenConnections connections;

    private final Map<String, ConsoleSession> sessions = new ConcurrentHashMap<>();

    /** How long the display may take to accept the bridge's connection. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

    /** On a virtual thread: connecting to a worker's display may wait (never past CONNECT_TIMEOUT). */
    @OnOpen
    @RunOnVirtualThread
    void open(WebSocketConnection connection) {
        ConsoleGrant grant = connection.userData().get(ConsoleHandshake.GRANT);
        if (grant == null) { // cannot happen: the handshake check runs first
            connection.closeAndAwait(new CloseReason(UNAVAILABLE, "not authorised"));
            return;
        }
        ConsoleSession session;
        try {
            session = ConsoleSession.connect(grant, CONNECT_TIMEOUT);
        } catch (IOException e) {
            LOG.infof("console of %s for %s: cannot reach the display: %s", grant.vmId(), grant.caller().username(), e);
            connection.closeAndAwait(new CloseReason(UNAVAILABLE, "the VM's display is not available"));
            return;
        }
        sessions.put(connection.id(), session);
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("viewOnly", grant.viewOnly());
        parameters.put("session", connection.id());
        QuarkusTransaction.requiringNew().run(() -> audit.record(grant.caller(), VmOperation.CONSOLE.auditName() + ".open", AuditLog.vm(grant.vmId()),
                parameters, AuditOutcome.SUCCEEDED, null));
        LOG.infof("console of %s opened for %s%s", grant.vmId(), grant.caller().username(), grant.viewOnly() ? " (view-only)" : "");
        Thread.ofVirtual().name("console-" + grant.vmId() + "-" + connection.id()).start(() -> session.pump(
                bytes -> connection.sendBinaryAndAwait(Buffer.buffer(bytes)),
                () -> close(connection, NORMAL, "the VM's display closed")));
    }

    /**
     * On a virtual thread: the write to QEMU blocks, and a worker that stops reading its display
     * must not tie up the server's worker threads (messages of one connection still come in order).
     */
    @OnBinaryMessage
    @RunOnVirtualThread
    void fromViewer(Buffer message, WebSocketConnection connection) {
        ConsoleSession session = sessions.get(connection.id());
        if (session == null) {
            return;
        }
        try {
            session.fromViewer(message.getBytes());
        } catch (RfbProtocolException e) {
            session.endBecause("the viewer broke the protocol: " + e.getMessage());
            close(connection, PROTOCOL_ERROR, e.getMessage());
        } catch (IOException e) {
            session.endBecause("the VM's display closed: " + e.getMessage());
            close(connection, NORMAL, "the VM's display closed");
        }
    }

    @OnError
    void failed(Throwable error, WebSocketConnection connection) {
        ConsoleSession session = sessions.get(connection.id());
        if (session != null) {
            session.endBecause("failed: " + error);
        }
        close(connection, UNAVAILABLE, "console failed");
    }

    /** Signing out ends the consoles opened under that sign-in: who watches or types must be signed in. */
    void signedOut(@Observes SignedOutSessions.SignedOut signOut) {
        for (WebSocketConnection connection : connections.findByEndpointId(ConsoleEndpoint.class.getName())) {
            ConsoleSession session = sessions.get(connection.id());
            if (session != null && signOut.session().equals(connection.userData().get(ConsoleHandshake.SIGN_IN))) {
                session.endBecause(signOut.username() + " signed out");
                close(connection, NORMAL, "signed out");
            }
        }
    }

    @OnClose
    void closed(WebSocketConnection connection) {
        ConsoleSession session = sessions.remove(connection.id());
        if (session == null || !session.close()) {
            return;
        }
        ConsoleGrant grant = session.grant();
        ConsoleSession.Summary summary = session.summary();
        LOG.infof("console of %s closed for %s after %.1f s: %s", grant.vmId(), grant.caller().username(),
                summary.seconds(), summary.ended());
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("session", connection.id());
        parameters.put("viewOnly", summary.viewOnly());
        parameters.put("seconds", summary.seconds());
        parameters.put("bytesToViewer", summary.bytesToViewer());
        parameters.put("bytesFromViewer", summary.bytesFromViewer());
        parameters.put("inputsDropped", summary.inputsDropped());
        parameters.put("ended", summary.ended());
        QuarkusTransaction.requiringNew().run(() -> audit.record(grant.caller(), VmOperation.CONSOLE.auditName() + ".close", AuditLog.vm(grant.vmId()),
                parameters, AuditOutcome.SUCCEEDED, null));
    }

    private static void close(WebSocketConnection connection, short code, String reason) {
        if (!connection.isClosed()) {
            connection.close(new CloseReason(code, reason)).subscribe().with(done -> { }, failure -> { });
        }
    }
}
