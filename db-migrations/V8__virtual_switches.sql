-- Virtual switches (engine: Linux bridges), and which switch each network adapter is plugged into.
-- A switch belongs to one host. An adapter without a switch is on the VM's isolated user-mode network.
-- A switch with adapters on it cannot be deleted (the foreign key), whatever asks.
CREATE TABLE switches (
    id              text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,10}$'),
    host_id         text        NOT NULL REFERENCES hosts (id),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 64 AND name !~ '[[:cntrl:]]'),
    kind            text        NOT NULL CHECK (kind IN ('private', 'internal')),
    -- the host's IPv4 address and prefix on an internal switch, e.g. 10.77.0.1/24
    host_address    text        CHECK (host_address ~ '^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT switches_name_key UNIQUE (host_id, name),
    CONSTRAINT switches_address_by_kind CHECK ((kind = 'internal') = (host_address IS NOT NULL))
);

ALTER TABLE nics ADD COLUMN switch_id text CONSTRAINT nics_switch_fkey REFERENCES switches (id);
CREATE INDEX nics_switch_idx ON nics (switch_id) WHERE switch_id IS NOT NULL;

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON switches TO %I', '${app_user}');
END
$do$;
