-- Placement (issue 19, item 2): what each host's server publishes about its host for placement, and the
-- administrators' placement settings.
--
-- Each server publishes on its own schedule what only it knows: the memory VMs may use (the host's memory less
-- what the host keeps for itself), the size and free space of the file system under its storage root, and its
-- CPU load over the counters' recent window. What is committed to VMs (the vCPUs and memory of those with a worker)
-- is not published: every server counts it from the vms table, so it is never older than the VMs themselves. A host's switches are
-- in the switches table already (each host's server writes its own), so they are not published twice.
ALTER TABLE hosts
    -- null until the host's server first published its facts
    ADD COLUMN vm_memory_bytes    bigint           CHECK (vm_memory_bytes >= 0),
    ADD COLUMN storage_bytes      bigint           CHECK (storage_bytes >= 0),
    ADD COLUMN storage_free_bytes bigint           CHECK (storage_free_bytes >= 0),
    -- cores busy on average over the counters' recent window; null when there were no recent samples
    ADD COLUMN cpu_load_cores     double precision CHECK (cpu_load_cores >= 0 AND cpu_load_cores < 'Infinity'),
    -- when the facts were published, by the database's clock
    ADD COLUMN facts_published_at timestamptz;

-- One row: the goal and the weights every server rates hosts with.
CREATE TABLE placement_settings (
    id             boolean          PRIMARY KEY DEFAULT true CHECK (id),
    goal           text             NOT NULL DEFAULT 'BALANCE' CHECK (goal IN ('BALANCE', 'CONSOLIDATE')),
    weight_cpu     double precision NOT NULL DEFAULT 1 CHECK (weight_cpu BETWEEN 0 AND 100),
    weight_memory  double precision NOT NULL DEFAULT 1 CHECK (weight_memory BETWEEN 0 AND 100),
    weight_storage double precision NOT NULL DEFAULT 1 CHECK (weight_storage BETWEEN 0 AND 100),
    updated_at     timestamptz      NOT NULL DEFAULT now(),
    updated_by     text             CHECK (length(updated_by) <= 255),
    CONSTRAINT placement_settings_some_weight CHECK (weight_cpu + weight_memory + weight_storage > 0)
);
INSERT INTO placement_settings DEFAULT VALUES;

-- What a host has committed is what its VMs with a worker hold (Off and Saved VMs hold no memory or CPU): a
-- host's sum over these, read for every creation, touches only the VMs that have a worker, however many are
-- defined (20,000 Off VMs cost nothing here).
CREATE INDEX vms_host_holding_idx ON vms (host_id) INCLUDE (vcpus, memory_mib)
    WHERE state IN ('STARTING', 'RUNNING', 'PAUSED', 'SAVING', 'RESTORING', 'STOPPING', 'MIGRATING');

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, UPDATE ON placement_settings TO %I', '${app_user}');
END
$do$;
