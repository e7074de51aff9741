-- A VM arriving live at another host (issue 19): the target's server writes the row when it prepares to receive,
-- and removes it once the VM runs there or once it has given the arrival up. The source's hand-over marks it
-- handed over in the same transaction that makes the target the owner (VmOwnership.transfer), and only while the
-- row is there and not handed over; the target gives up only a row that is not handed over. So a target that gives
-- up (its source went quiet) and a source that hands over cannot both win: either the guest stays at the source,
-- or the target owns it and resumes it, whether or not the source lives to ask.
CREATE TABLE vm_arrivals (
    vm_id       text        PRIMARY KEY REFERENCES vms (id) ON DELETE CASCADE,
    host_id     text        NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    from_host   text        NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    -- the guest left paused: it arrives paused
    paused      boolean     NOT NULL,
    -- by the database's clock, as every server counts them: when the arrival was recorded, when it was handed over
    since       timestamptz NOT NULL DEFAULT clock_timestamp(),
    handed_over timestamptz,
    CONSTRAINT vm_arrivals_elsewhere CHECK (host_id <> from_host)
);

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON vm_arrivals TO %I', '${app_user}');
END
$do$;
