package io.hypervise.server.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import io.hypervise.engine.network.NetworkException;
import io.hypervise.engine.EngineException;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import io.hypervise.engine.vm.VmAlreadyExistsException;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.VmOperationException;
import io.hypervise.engine.vm.VmStateException;
import io.hypervise.engine.vm.VmUnresponsiveException;
import io.hypervise.server.access.Caller;
import io.hypervise.server.audit.DeniedRequests;
import io.quarkus.security.AuthenticationFailedException;
import io.vertx.core.http.HttpServerRequest;
import jakarta.inject.Inject;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.hibernate.JDBCException;
import org.hibernate.exception.ConstraintViolationException;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * Every failure a request can meet, as an RFC 9457 problem document ({@link Problem}), in one place:
 * the server's own refusals, the engine's failures, the framework's, and whatever is left (a 500).
 * The most specific method for an exception's class answers.
 */
public class ProblemMapping {

    private static final Logger LOG = Logger.getLogger(ProblemMapping.class);

    static final String TOKEN_REFUSED = "the bearer token was not accepted: it is malformed, expired, or not issued"
            + " by Keycloak's realm 'hypervise' for this server";

    /** Inventory rules (database constraints) a request can break, in words; keyed on the constraint's name. */
    private static final Map<String, String> CONSTRAINTS = Map.of(
            "nics_mac_key", "nics: another VM already has a network adapter with this MAC address",
            "disks_writable_path_key", "disks: this image is already attached, writable, to another VM",
            "host_device_claims_pkey", "disks: this host device is given to another VM already; one VM at a time",
            "vms_pkey", "id: a VM with this id exists already",
            "switches_pkey", "id: a virtual switch with this id exists already",
            "switches_name_key", "name: this host has a virtual switch with this name already",
            "nics_switch_fkey", "the virtual switch still has VM network adapters plugged in; remove those VMs' adapters first");

    @Inject
    DeniedRequests deniedRequests;

    /** The server's own refusals carry their status and what the problem says beyond it. */
    @ServerExceptionMapper
    public Response refused(RequestRefusedException e) {
        if (e.status() >= 500) {
            LOG.errorf("request refused with %d: %s", e.status(), e.detail());
        }
        Response problem = Problem.response(e.status(), e.detail(), e.extensions());
        return e.retryAfter()
                .map(wait -> Response.fromResponse(problem).header("Retry-After", Long.toString(wait.toSeconds())).build())
                .orElse(problem);
    }

    @ServerExceptionMapper
    public Response engineFailed(EngineException e) {
        return switch (e) {
            case VmNotFoundException x -> Problem.response(404, x.getMessage());
            case VmStateException x -> Problem.response(409, x.getMessage());
            case VmAlreadyExistsException x -> Problem.response(409, x.getMessage());
            case InvalidVmDefinitionException x -> Problem.response(400, x.getMessage(), fieldErrors(x));
            // The worker did not answer in time: nothing is known to have happened.
            case VmUnresponsiveException x -> Problem.response(504, x.getMessage());
            // The worker, not the client, failed: a gateway error carrying QEMU's reason.
            case VmOperationException x -> Problem.response(502, x.getMessage());
            // The more specific networkFailed answers these; named here so the switch says where they go.
            case NetworkException x -> networkFailed(x);
            // Failures the engine handles itself (QMP, image headers): one that escapes is the server's fault.
            default -> unexpected(e);
        };
    }

    /** The engine's virtual switch failures. */
    @ServerExceptionMapper
    public Response networkFailed(NetworkException e) {
        return Problem.response(switch (e.reason()) {
            case NOT_FOUND -> 404;
            case IN_USE -> 409;
            case INVALID -> 400;
            // The host, not the request, lacks something; the request is sound but cannot be done here.
            case UNAVAILABLE -> 409;
            // The kernel refused what it should have accepted: a gateway error carrying iproute2's words.
            case FAILED -> 502;
        }, e.getMessage());
    }

    /**
     * A token that is malformed, expired, or not from our realm: 401 with a reason, and an audit entry
     * (by "anonymous": a token that was not accepted names nobody we can trust).
     */
    @ServerExceptionMapper
    public Response tokenRefused(AuthenticationFailedException e, HttpServerRequest request) {
        String address = request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
        deniedRequests.record(new Caller(Caller.ANONYMOUS, Set.of(), Set.of(), address), request.method().name(),
                request.path(), 401, TOKEN_REFUSED);
        return Problem.unauthorized(TOKEN_REFUSED);
    }

    /** A request that conflicts with what the inventory already holds: 409, in words. */
    @ServerExceptionMapper
    public Response conflicts(ConstraintViolationException e) {
        String name = e.getConstraintName() == null ? "" : e.getConstraintName();
        return Problem.response(409, CONSTRAINTS.getOrDefault(name, "the request conflicts with the inventory (rule " + name + ")"));
    }

    /**
     * The database gave no connection in time (every pooled connection busy), or the connection broke: the
     * server cannot answer now, through no fault of the client's (503, try again). Any other database failure
     * is a fault of the server's (500).
     */
    @ServerExceptionMapper
    public Response databaseFailed(JDBCException e) {
        String state = e.getSQLState();
        if (state == null || state.startsWith("08") || state.startsWith("53") || state.startsWith("57P")) {
            LOG.errorf("request refused with 503: the database did not answer: %s", e.getMessage());
            return Response.fromResponse(Problem.response(503, "the inventory database cannot answer now ("
                    + e.getSQLException().getMessage() + "); try again")).header("Retry-After", "5").build();
        }
        return unexpected(e);
    }

    /** A body that is not JSON, or JSON of the wrong shape: 400, naming where. */
    @ServerExceptionMapper
    public Response unreadableBody(JsonProcessingException e) {
        if (e instanceof JsonMappingException m && !m.getPath().isEmpty()) {
            String field = m.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining(".")).replace(".[", "[");
            return Problem.response(400, field + ": has the wrong type or shape (" + m.getOriginalMessage().split("\n")[0] + ")");
        }
        return Problem.response(400, "the body is not valid JSON: " + e.getOriginalMessage().split("\n")[0]);
    }

    /**
     * JSON of the wrong shape (a word where a number belongs): the framework has its own mapper for this
     * exact type, so this one must name it too to answer with a problem document like every other error.
     */
    @ServerExceptionMapper
    public Response mismatchedBody(MismatchedInputException e) {
        return unreadableBody(e);
    }

    /** Gives the framework's own errors (unknown path, wrong method, bad request) the problem shape too. */
    @ServerExceptionMapper
    public Response framework(WebApplicationException e) {
        if (e.getResponse().hasEntity()) {
            return e.getResponse(); // already a problem document, built where the reason was known
        }
        int status = e.getResponse().getStatus();
        String detail = switch (status) {
            case 404 -> e.getMessage() == null || e.getMessage().startsWith("HTTP 404") ? "no such resource" : e.getMessage();
            case 405 -> "this method is not allowed on this resource";
            default -> e.getMessage();
        };
        return Problem.response(status, detail);
    }

    /**
     * A failure nothing above knows: the server's fault, never the client's. The client gets an id to
     * quote, the log gets the stack trace; internals never reach the response.
     */
    @ServerExceptionMapper
    public Response unexpected(Exception e) {
        String id = UUID.randomUUID().toString();
        LOG.errorf(e, "unexpected error %s", id);
        return Problem.response(500, "the server failed unexpectedly (error " + id + "); the server log has the details");
    }

    private static List<FieldError> fieldErrors(InvalidVmDefinitionException e) {
        return e.violations().stream().map(v -> new FieldError(v.field(), v.message())).toList();
    }
}
