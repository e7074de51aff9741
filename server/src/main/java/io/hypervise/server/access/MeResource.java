package io.hypervise.server.access;

import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Who the caller is and what they may do: what user interfaces use to show only what is possible. */
@Path("/api/v1")
@Produces(MediaType.APPLICATION_JSON)
public class MeResource {

    @Inject
    CurrentCaller current;

    public record Me(String username, List<String> roles, List<String> groups, Map<String, String> permissions) {
    }

    @GET
    @Path("me")
    @AnySignedInCaller
    public Me me() {
        Caller caller = current.get();
        Map<String, String> permissions = new LinkedHashMap<>();
        Arrays.stream(Permission.values()).forEach(p -> permissions.put(p.name().toLowerCase().replace('_', '-'),
                caller.reach(p).name().toLowerCase()));
        return new Me(caller.username(), caller.roles().stream().map(HvRole::realmRole).sorted().toList(),
                caller.groups().stream().sorted().toList(), permissions);
    }
}
