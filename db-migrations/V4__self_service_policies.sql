-- Self-service policies: what self-service users may create and do, and how much. Admins write them
-- and assign each to Keycloak groups and users. A setting left NULL is "not configured": another
-- policy may set it; see docs/operator-guide.md for how policies combine (in the spirit of Group
-- Policy: enforced first, then a user's own assignment before their groups', then by precedence).
-- Identifiers follow the inventory's rule.

-- Hosts belong to a host group; policies allow host groups, not single hosts.
ALTER TABLE hosts ADD COLUMN host_group text NOT NULL DEFAULT 'default'
    CHECK (host_group ~ '^[a-z0-9][a-z0-9-]{0,39}$');

CREATE TABLE policies (
    id                  text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    name                text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name !~ '[[:cntrl:]]'),
    description         text        NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    -- 1 is the highest precedence, as in Group Policy's link order
    precedence          integer     NOT NULL CHECK (precedence BETWEEN 1 AND 1000),
    enforced            boolean     NOT NULL DEFAULT false,
    assigned_groups     text[]      NOT NULL DEFAULT '{}',
    assigned_users      text[]      NOT NULL DEFAULT '{}',
    host_groups         text[],
    templates           text[],
    actions             text[],
    max_vms             integer     CHECK (max_vms >= 0),
    max_vcpus           integer     CHECK (max_vcpus >= 0),
    max_memory_mib      bigint      CHECK (max_memory_mib >= 0),
    max_disk_mib        bigint      CHECK (max_disk_mib >= 0),
    max_vm_vcpus        integer     CHECK (max_vm_vcpus >= 0),
    max_vm_memory_mib   bigint      CHECK (max_vm_memory_mib >= 0),
    max_vm_disk_mib     bigint      CHECK (max_vm_disk_mib >= 0),
    lease_days          integer     CHECK (lease_days BETWEEN 1 AND 3650),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    version             bigint      NOT NULL DEFAULT 0
);

CREATE INDEX policies_assigned_groups_idx ON policies USING gin (assigned_groups);
CREATE INDEX policies_assigned_users_idx ON policies USING gin (assigned_users);

-- A VM's lease, when a policy gave it one: it is warned, then stopped, then deleted.
ALTER TABLE vms ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE vms ADD COLUMN lease_warned_at timestamptz;
ALTER TABLE vms ADD COLUMN lease_stopped_at timestamptz;
CREATE INDEX vms_lease_expires_at_idx ON vms (lease_expires_at) WHERE lease_expires_at IS NOT NULL;

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON policies TO %I', '${app_user}');
END
$do$;
