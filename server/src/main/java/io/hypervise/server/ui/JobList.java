package io.hypervise.server.ui;

import io.hypervise.server.jobs.JobView;
import java.util.List;
import java.util.Map;

/** The newest jobs, with the names of their VMs (a job keeps only the VM's id; a deleted VM has no name). */
public record JobList(List<JobView> jobs, Map<String, String> vmNames) {

    public String vm(JobView job) {
        return job.vmId() == null ? "" : vmNames.getOrDefault(job.vmId(), job.vmId());
    }
}
