package io.hypervise.server.jobs;

import jakarta.ws.rs.core.Response;
import java.net.URI;

/** The answer to a request carried out as a job: 202, the job, and where to follow it. */
public final class Accepted {

    private Accepted() {
    }

    public static Response job(JobView job) {
        return Response.accepted(job).location(URI.create("/api/v1/jobs/" + job.id())).build();
    }
}
