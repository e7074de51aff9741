-- A VM's resource controls (engine Resources): null means none, as every VM had before.
ALTER TABLE vms
    ADD COLUMN cpu_weight integer CHECK (cpu_weight BETWEEN 1 AND 10000),
    ADD COLUMN cpu_cap_percent integer CHECK (cpu_cap_percent BETWEEN 1 AND 100),
    ADD COLUMN memory_reservation_mib integer CHECK (memory_reservation_mib > 0),
    ADD COLUMN balloon_target_mib integer CHECK (balloon_target_mib > 0),
    ADD COLUMN disk_bytes_per_second bigint CHECK (disk_bytes_per_second > 0),
    ADD COLUMN disk_iops integer CHECK (disk_iops > 0);
