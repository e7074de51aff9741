package io.hypervise.server.policy;

import io.hypervise.server.access.AnySignedInCaller;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.util.List;

/** Self-service policies: administrators write them; every signed-in user can see what applies to them. */
@Path("/api/v1")
@Produces(MediaType.APPLICATION_JSON)
public class PolicyResource {

    @Inject
    QuotaUse quotaUse;

    @Inject
    Policies policies;

    @Inject
    SelfServicePolicies selfService;

    @Inject
    CurrentCaller current;

    /** Every policy, by precedence. (Few: no paging.) */
    public record Page(List<PolicyView> items, int page, int size, long total) {
    }

    @GET
    @Path("policies")
    @Requires(Permission.POLICY_MANAGE)
    @Transactional
    public Page list() {
        List<PolicyView> items = policies.list();
        return new Page(items, 0, items.size(), items.size());
    }

    /** What VMs take up per user and per group, against the quotas their policies set. */
    @GET
    @Path("quota-use")
    @Requires(Permission.POLICY_MANAGE)
    public QuotaUse.Report quotaUse() {
        return quotaUse.report();
    }

    @GET
    @Path("policies/{id}")
    @Requires(Permission.POLICY_MANAGE)
    public PolicyView get(@PathParam("id") String id) {
        return PolicyView.of(policies.find(id));
    }

    @POST
    @Path("policies")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.POLICY_MANAGE)
    public Response create(PolicyRequest request) {
        PolicyEntity p = policies.create(request, current.get());
        return Response.created(URI.create("/api/v1/policies/" + p.id)).entity(PolicyView.of(p)).build();
    }

    @PUT
    @Path("policies/{id}")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.POLICY_MANAGE)
    public PolicyView replace(@PathParam("id") String id, PolicyRequest request) {
        return PolicyView.of(policies.replace(id, request, current.get()));
    }

    @DELETE
    @Path("policies/{id}")
    @Requires(Permission.POLICY_MANAGE)
    public Response delete(@PathParam("id") String id) {
        policies.delete(id, current.get());
        return Response.noContent().build();
    }

    /**
     * What the caller's policies allow and how much of their quotas their VMs use: what the portal
     * shows as bars. For callers policies do not govern, {@code governed} is false.
     */
    public record MyPolicy(boolean governed, List<String> policies, EffectivePolicy effective, Usage usage) {
    }

    @GET
    @Path("me/policy")
    @AnySignedInCaller
    public MyPolicy mine() {
        Caller caller = current.get();
        if (!selfService.govern(caller, Permission.VM_CREATE)) {
            return new MyPolicy(false, List.of(), null, null);
        }
        EffectivePolicy effective = selfService.effective(caller);
        return new MyPolicy(true, effective.applied().stream().map(AppliedPolicy::id).toList(), effective,
                selfService.usage(caller.username(), null));
    }
}
