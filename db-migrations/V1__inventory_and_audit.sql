-- The host inventory (hosts, VMs and their disks and network adapters, templates), long-running jobs
-- and the audit log. Enumerations are stored as the engine's enum constant names (OFF, ENLIGHTENED,
-- QCOW2, ...), which is what JPA's EnumType.STRING writes. Identifiers follow the engine's rule: 1 to
-- 40 lower-case letters, digits or dashes, starting with a letter or digit.

CREATE TABLE hosts (
    id              text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name !~ '[[:cntrl:]]'),
    hostname        text        NOT NULL CHECK (length(hostname) BETWEEN 1 AND 253),
    accelerator     text        NOT NULL CHECK (accelerator IN ('KVM', 'TCG')),
    cpus            integer     NOT NULL CHECK (cpus > 0),
    memory_bytes    bigint      NOT NULL CHECK (memory_bytes > 0),
    qemu_version    text        NOT NULL,
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         bigint      NOT NULL DEFAULT 0
);

-- What a VM is deployed from. Its settings have the same rules as a VM's.
CREATE TABLE templates (
    id                  text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    name                text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name !~ '[[:cntrl:]]'),
    description         text        NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    vcpus               integer     NOT NULL CHECK (vcpus BETWEEN 1 AND 64),
    memory_mib          integer     NOT NULL CHECK (memory_mib BETWEEN 32 AND 1048576),
    profile             text        NOT NULL CHECK (profile IN ('ENLIGHTENED', 'LEGACY')),
    display             text        NOT NULL CHECK (display IN ('VNC', 'NONE')),
    boot_kind           text        NOT NULL CHECK (boot_kind IN ('KERNEL', 'DISK', 'ISO')),
    boot_kernel         text,
    boot_initramfs      text,
    boot_command_line   text        CHECK (length(boot_command_line) <= 2048 AND boot_command_line !~ '[[:cntrl:]]'),
    boot_image          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    version             bigint      NOT NULL DEFAULT 0,
    CONSTRAINT templates_kernel_boot_names_a_kernel CHECK ((boot_kind = 'KERNEL') = (boot_kernel IS NOT NULL)),
    CONSTRAINT templates_iso_boot_names_an_image CHECK ((boot_kind = 'ISO') = (boot_image IS NOT NULL)),
    CONSTRAINT templates_initramfs_and_command_line_need_kernel_boot
        CHECK (boot_kind = 'KERNEL' OR (boot_initramfs IS NULL AND boot_command_line IS NULL))
);

CREATE TABLE vms (
    id                  text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    host_id             text        NOT NULL REFERENCES hosts (id),
    template_id         text        REFERENCES templates (id) ON DELETE SET NULL,
    name                text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name !~ '[[:cntrl:]]'),
    -- the user who owns the VM (Keycloak's preferred_username); self-service users see only their own
    owner               text        NOT NULL CHECK (length(owner) BETWEEN 1 AND 255),
    vcpus               integer     NOT NULL CHECK (vcpus BETWEEN 1 AND 64),
    memory_mib          integer     NOT NULL CHECK (memory_mib BETWEEN 32 AND 1048576),
    profile             text        NOT NULL CHECK (profile IN ('ENLIGHTENED', 'LEGACY')),
    display             text        NOT NULL CHECK (display IN ('VNC', 'NONE')),
    boot_kind           text        NOT NULL CHECK (boot_kind IN ('KERNEL', 'DISK', 'ISO')),
    boot_kernel         text,
    boot_initramfs      text,
    boot_command_line   text        CHECK (length(boot_command_line) <= 2048 AND boot_command_line !~ '[[:cntrl:]]'),
    boot_image          text,
    -- the last state the engine reported, why, and since when
    state               text        NOT NULL DEFAULT 'OFF' CHECK (state IN ('OFF', 'STARTING', 'RUNNING', 'PAUSED',
                                        'SAVING', 'SAVED', 'RESTORING', 'STOPPING', 'MIGRATING')),
    state_reason        text        CHECK (length(state_reason) <= 1000),
    state_since         timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- optimistic locking (JPA @Version)
    version             bigint      NOT NULL DEFAULT 0,
    CONSTRAINT vms_kernel_boot_names_a_kernel CHECK ((boot_kind = 'KERNEL') = (boot_kernel IS NOT NULL)),
    CONSTRAINT vms_iso_boot_names_an_image CHECK ((boot_kind = 'ISO') = (boot_image IS NOT NULL)),
    CONSTRAINT vms_initramfs_and_command_line_need_kernel_boot
        CHECK (boot_kind = 'KERNEL' OR (boot_initramfs IS NULL AND boot_command_line IS NULL))
);

CREATE INDEX vms_host_id_idx ON vms (host_id);
CREATE INDEX vms_owner_idx ON vms (owner);
CREATE INDEX vms_state_idx ON vms (state);
CREATE INDEX vms_template_id_idx ON vms (template_id);

-- A VM's disks in the order the guest sees them. The format is stored, never probed: QEMU is always
-- told it (a raw image with a qcow2 header would otherwise name a host file as its backing store).
CREATE TABLE disks (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vm_id       text        NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    position    smallint    NOT NULL CHECK (position BETWEEN 0 AND 15),
    path        text        NOT NULL CHECK (path LIKE '/%' AND length(path) <= 4096 AND path !~ '[[:cntrl:]]'),
    format      text        NOT NULL CHECK (format IN ('RAW', 'QCOW2', 'VHD', 'VHDX')),
    read_only   boolean     NOT NULL DEFAULT false,
    -- the virtual size the guest sees; unknown until the image has been inspected
    size_bytes  bigint      CHECK (size_bytes > 0),
    CONSTRAINT disks_vm_position_key UNIQUE (vm_id, position)
);

-- Two VMs writing one image corrupt it.
CREATE UNIQUE INDEX disks_writable_path_key ON disks (path) WHERE NOT read_only;

CREATE TABLE nics (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vm_id       text        NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    position    smallint    NOT NULL CHECK (position BETWEEN 0 AND 7),
    -- unicast (even first octet), not all zeros
    mac         text        NOT NULL CHECK (mac ~ '^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$' AND mac <> '00:00:00:00:00:00'),
    CONSTRAINT nics_vm_position_key UNIQUE (vm_id, position),
    CONSTRAINT nics_mac_key UNIQUE (mac)
);

-- Long operations (deploy, save, migrate, ...) followed through /api/v1/jobs. A job outlives its VM.
CREATE TABLE jobs (
    id          uuid        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind ~ '^[a-z][a-z0-9-]{0,39}$'),
    vm_id       text        REFERENCES vms (id) ON DELETE SET NULL,
    actor       text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 255),
    state       text        NOT NULL DEFAULT 'QUEUED'
                            CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    progress    smallint    NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    result      jsonb,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_failed_job_has_an_error CHECK ((state = 'FAILED') = (error IS NOT NULL)),
    CONSTRAINT jobs_succeeded_job_is_complete CHECK (state <> 'SUCCEEDED' OR progress = 100)
);

CREATE INDEX jobs_vm_id_idx ON jobs (vm_id);
CREATE INDEX jobs_unfinished_idx ON jobs (created_at) WHERE state IN ('QUEUED', 'RUNNING');

-- Every change and every denied request, append-only (see V2: the application may only SELECT and
-- INSERT here) and hash-chained: hash = SHA-256 over prev_hash and the entry's fields, as lower-case
-- hex; the first entry's prev_hash is 64 zeros. An entry names its predecessor, and no two entries
-- may name the same one, so the chain cannot fork even under concurrent writers.
-- The id is GENERATED ALWAYS: the database numbers the entries, never the writer.
CREATE TABLE audit_log (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 255),
    roles           text[]      NOT NULL DEFAULT '{}',
    source_address  inet,
    action          text        NOT NULL CHECK (action ~ '^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$' AND length(action) <= 100),
    target          text        CHECK (length(target) <= 255),
    parameters      jsonb       NOT NULL DEFAULT '{}',
    outcome         text        NOT NULL CHECK (outcome IN ('SUCCEEDED', 'FAILED', 'DENIED')),
    -- why it failed or was denied ("denied because ..."); every decision is explainable
    reason          text        CHECK (length(reason) <= 2000),
    prev_hash       text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash            text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT audit_log_failure_or_denial_has_a_reason CHECK (outcome = 'SUCCEEDED' OR reason IS NOT NULL),
    CONSTRAINT audit_log_hash_key UNIQUE (hash),
    CONSTRAINT audit_log_prev_hash_key UNIQUE (prev_hash)
);

CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor);
CREATE INDEX audit_log_target_idx ON audit_log (target);
