-- The resource controls a policy imposes on every VM its users create (engine Resources; the same
-- columns as a VM's own, V16). All null: the policy imposes none.
ALTER TABLE policies
    ADD COLUMN cpu_weight integer CHECK (cpu_weight BETWEEN 1 AND 10000),
    ADD COLUMN cpu_cap_percent integer CHECK (cpu_cap_percent BETWEEN 1 AND 100),
    ADD COLUMN memory_reservation_mib integer CHECK (memory_reservation_mib IS NULL),
    ADD COLUMN balloon_target_mib integer CHECK (balloon_target_mib IS NULL),
    ADD COLUMN disk_bytes_per_second bigint CHECK (disk_bytes_per_second > 0),
    ADD COLUMN disk_iops integer CHECK (disk_iops > 0);
