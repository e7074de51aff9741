-- Pass-through disks: a whole block device of a host given to a VM (engine Disk.hostDevice). Its path is
-- the device's node under /dev with every link resolved, and its format is always raw.
ALTER TABLE disks ADD COLUMN host_device boolean NOT NULL DEFAULT false;
-- A device is held by its claim below (read-only or not), whose refusal names it; images keep their own rule.
DROP INDEX disks_writable_path_key;
CREATE UNIQUE INDEX disks_writable_path_key ON disks (path) WHERE NOT read_only AND NOT host_device;
ALTER TABLE disks ADD CONSTRAINT disks_host_device_raw CHECK (NOT host_device OR (format = 'RAW' AND backing_path IS NULL));

-- Which VM a host's block device is given to: one at a time. The claim is written with the request's
-- intent, before the engine opens the device, so of two VMs asking for it at once one wins and the other is
-- refused (409) with nothing done; it goes with the disk, or with the VM.
CREATE TABLE host_device_claims (
    host_id    text        NOT NULL REFERENCES hosts (id),
    device     text        NOT NULL CHECK (device ~ '^/'),
    vm_id      text        NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT host_device_claims_pkey PRIMARY KEY (host_id, device)
);
CREATE INDEX host_device_claims_vm_idx ON host_device_claims (vm_id);

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON host_device_claims TO %I', '${app_user}');
END
$do$;
