-- Checkpoints (Hyper-V's word for snapshots): qcow2 internal snapshots, one tag (the id) in every writable
-- disk of the VM. The tree is kept here: parent_id is the checkpoint the VM was at when this one was taken.
CREATE TABLE checkpoints (
    id          text PRIMARY KEY CHECK (id ~ '^cp-[0-9a-f]{16}$'),
    vm_id       text NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    parent_id   text REFERENCES checkpoints (id) ON DELETE SET NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    memory      boolean NOT NULL,
    size_bytes  bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 255),
    -- Written before the engine acts, cleared when it is done; a server that dies meanwhile settles it at start.
    pending     text CHECK (pending IN ('TAKING', 'DELETING'))
);
CREATE INDEX checkpoints_vm ON checkpoints (vm_id, created_at);

-- The checkpoint the VM's present state descends from (where a new one hangs in the tree).
ALTER TABLE vms ADD COLUMN current_checkpoint_id text REFERENCES checkpoints (id) ON DELETE SET NULL;

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON checkpoints TO %I', '${app_user}');
END
$do$;
