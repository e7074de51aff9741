package io.hypervise.server.jobs;

import java.time.Instant;

/** A job as the API shows it: what, on which VM, for whom, how far, and how it ended. */
public record JobView(String id, String kind, String vmId, String target, String actor, String state, int progress,
        String error, Instant createdAt, Instant updatedAt) {

    static JobView of(JobEntity job) {
        return new JobView(job.id.toString(), job.kind, job.vmId, job.target, job.actor, job.state.name().toLowerCase(),
                job.progress, job.error, job.createdAt, job.updatedAt);
    }
}
