-- The library (SCVMM's): ISO images and disk images that VMs are deployed from. Each item's file lies
-- in the library folder of the host that holds it (host_id), under items/<id>/; its format is stored and
-- passed to every tool, never probed. A disk uploaded as VHD or VHDX is converted on import (VMs run on
-- qcow2 or raw; see DESIGN.md), so source_format says what it came as and format what it is now.
CREATE TABLE library_items (
    id              text        PRIMARY KEY CHECK (id ~ '^lib-[a-z0-9]{8,32}$'),
    host_id         text        NOT NULL REFERENCES hosts (id),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name !~ '[[:cntrl:]]'),
    description     text        NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    kind            text        NOT NULL CHECK (kind IN ('ISO', 'DISK')),
    format          text        NOT NULL CHECK (format IN ('RAW', 'QCOW2')),
    source_format   text        NOT NULL CHECK (source_format IN ('ISO', 'RAW', 'QCOW2', 'VHD', 'VHDX')),
    -- the size the guest sees, and what the file takes on the host
    virtual_bytes   bigint      NOT NULL CHECK (virtual_bytes > 0),
    actual_bytes    bigint      NOT NULL CHECK (actual_bytes >= 0),
    -- of the file as uploaded or imported (what its uploader can check against)
    sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    owner           text        NOT NULL CHECK (length(owner) BETWEEN 1 AND 255),
    -- who may see and use it: everyone signed in, members of the listed groups, or administrators only
    visibility      text        NOT NULL CHECK (visibility IN ('EVERYONE', 'GROUPS', 'ADMINS')),
    groups          text[]      NOT NULL DEFAULT '{}',
    file            text        NOT NULL CHECK (file !~ '(^/|\.\.|[[:cntrl:]])' AND length(file) <= 1024),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT library_items_groups_only_for_group_visibility CHECK (visibility = 'GROUPS' OR groups = '{}'),
    CONSTRAINT library_items_iso_is_raw CHECK (kind = 'DISK' OR format = 'RAW')
);

CREATE INDEX library_items_owner_idx ON library_items (owner);
CREATE INDEX library_items_name_idx ON library_items (name, id);

-- Uploads under way (the tus protocol, resumable): the bytes received so far are the part file's length.
-- An upload not touched for a day is abandoned and removed with its file. Its bytes count against the
-- uploader's library quota from the moment it is created, so a quota cannot be overrun by parallel uploads.
CREATE TABLE library_uploads (
    id              text        PRIMARY KEY CHECK (id ~ '^up-[a-z0-9]{16,40}$'),
    host_id         text        NOT NULL REFERENCES hosts (id),
    -- the id the item will have, known from the start so the uploader can follow it
    item_id         text        NOT NULL UNIQUE CHECK (item_id ~ '^lib-[a-z0-9]{8,32}$'),
    owner           text        NOT NULL CHECK (length(owner) BETWEEN 1 AND 255),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name !~ '[[:cntrl:]]'),
    description     text        NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    kind            text        NOT NULL CHECK (kind IN ('ISO', 'DISK')),
    -- as the uploader declared it, or null to detect it from the file's first bytes
    declared_format text        CHECK (declared_format IN ('ISO', 'RAW', 'QCOW2', 'VHD', 'VHDX')),
    expected_sha256 text        CHECK (expected_sha256 ~ '^[0-9a-f]{64}$'),
    visibility      text        NOT NULL CHECK (visibility IN ('EVERYONE', 'GROUPS', 'ADMINS')),
    groups          text[]      NOT NULL DEFAULT '{}',
    length          bigint      NOT NULL CHECK (length > 0),
    -- RECEIVING while bytes arrive; IMPORTING once all have (checked, converted, hashed by a job)
    state           text        NOT NULL DEFAULT 'RECEIVING' CHECK (state IN ('RECEIVING', 'IMPORTING')),
    job_id          uuid        REFERENCES jobs (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    touched_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX library_uploads_owner_idx ON library_uploads (owner);

-- Where an item is used: a VM's disk made from it (a linked clone reads it for as long as the VM exists;
-- a full copy only records where it came from) and a VM's CD-ROM. An item in use cannot be deleted.
ALTER TABLE disks ADD COLUMN library_item_id text REFERENCES library_items (id);
ALTER TABLE disks ADD COLUMN backing_path text CHECK (backing_path LIKE '/%' AND length(backing_path) <= 4096);
ALTER TABLE disks ADD COLUMN backing_format text CHECK (backing_format IN ('RAW', 'QCOW2'));
ALTER TABLE disks ADD CONSTRAINT disks_backing_has_a_format CHECK ((backing_path IS NULL) = (backing_format IS NULL));
ALTER TABLE vms ADD COLUMN boot_library_item_id text REFERENCES library_items (id);
CREATE INDEX disks_library_item_id_idx ON disks (library_item_id) WHERE library_item_id IS NOT NULL;
CREATE INDEX vms_boot_library_item_id_idx ON vms (boot_library_item_id) WHERE boot_library_item_id IS NOT NULL;

-- Self-service policies name the library items a user may deploy (as they name templates), and how much
-- the user may keep in the library.
ALTER TABLE policies ADD COLUMN library_items text[];
ALTER TABLE policies ADD COLUMN max_library_mib bigint CHECK (max_library_mib >= 0);

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON library_items, library_uploads TO %I', '${app_user}');
END
$do$;

-- What a job that is not a VM's works on (for example library:lib-…), so its page can say so.
ALTER TABLE jobs ADD COLUMN target text CHECK (length(target) <= 255);

-- The VM's firmware: BIOS (SeaBIOS) or UEFI (OVMF, with a per-VM copy of its variables kept by the engine).
ALTER TABLE vms ADD COLUMN firmware text NOT NULL DEFAULT 'BIOS' CHECK (firmware IN ('BIOS', 'UEFI'));

-- A template stored from a VM ("store in library") keeps its disks as library items; a VM deployed from
-- it gets a linked clone of each, before the disks its request adds.
CREATE TABLE template_disks (
    template_id     text        NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    position        smallint    NOT NULL CHECK (position BETWEEN 0 AND 15),
    library_item_id text        NOT NULL REFERENCES library_items (id),
    PRIMARY KEY (template_id, position)
);
CREATE INDEX template_disks_library_item_id_idx ON template_disks (library_item_id);
ALTER TABLE templates ADD COLUMN firmware text NOT NULL DEFAULT 'BIOS' CHECK (firmware IN ('BIOS', 'UEFI'));
ALTER TABLE templates ADD COLUMN owner text CHECK (length(owner) BETWEEN 1 AND 255);

-- A VM whose disks are being copied into the library is Off and stays so until the copy ends.
ALTER TABLE vms DROP CONSTRAINT vms_pending_check;
ALTER TABLE vms ADD CONSTRAINT vms_pending_check CHECK (pending IN ('CREATING', 'DELETING', 'STORING'));

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON template_disks TO %I', '${app_user}');
END
$do$;
