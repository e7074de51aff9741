-- Room for a VM to grow while it runs (engine VmDefinition.maxVcpus / maxMemoryMib; null: none, the VM's own
-- vcpus / memory_mib), and the DIMMs added while it ran, in MiB in the order added (part of memory_mib): a
-- worker that restores the VM's saved state needs them on its command line.
ALTER TABLE vms
    ADD COLUMN max_vcpus integer,
    ADD COLUMN max_memory_mib integer,
    ADD COLUMN memory_dimms_mib integer[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT vms_max_vcpus CHECK (max_vcpus IS NULL OR max_vcpus >= vcpus),
    ADD CONSTRAINT vms_max_memory_mib CHECK (max_memory_mib IS NULL OR max_memory_mib >= memory_mib);
