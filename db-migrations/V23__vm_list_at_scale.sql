-- The VM list at 20,000 VMs (issue 18, measured by `bin/hypervise bench api`).
--
-- 1. Totals without counting. A list answers with how many VMs match; count(*) over 20,000 rows costs
--    PostgreSQL about as much as the rest of the page, on every request. vm_counts holds the number of
--    VMs per owner and state instead, kept by triggers on vms in the same transaction as the change, so a
--    total is exact and as current as the page it comes with. The triggers only ever INSERT (+1 or -1 a
--    row): two transactions changing VMs never wait for each other on a counter row, and cannot
--    deadlock on one (a state change touches two keys, and a transaction changing many VMs many more, in
--    any order). The server folds the rows into one per owner and state every few seconds
--    (inventory/VmCounts), so a total sums a few rows per owner.
CREATE TABLE vm_counts (
    id      bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner   text    NOT NULL,
    state   text    NOT NULL,
    n       bigint  NOT NULL
);
CREATE INDEX vm_counts_owner_state_idx ON vm_counts (owner, state) INCLUDE (n);

CREATE FUNCTION vm_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO vm_counts (owner, state, n) VALUES (OLD.owner, OLD.state, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO vm_counts (owner, state, n) VALUES (NEW.owner, NEW.state, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER vm_counts_on_insert_or_delete AFTER INSERT OR DELETE ON vms
    FOR EACH ROW EXECUTE FUNCTION vm_counts_follow();
CREATE TRIGGER vm_counts_on_update AFTER UPDATE OF owner, state ON vms
    FOR EACH ROW WHEN (OLD.owner IS DISTINCT FROM NEW.owner OR OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION vm_counts_follow();

INSERT INTO vm_counts (owner, state, n) SELECT owner, state, count(*) FROM vms GROUP BY owner, state;

-- 2. Keyset pages of one owner's VMs (a self-service user's list, or ?owner=): by name, then id, as the
--    whole list is by vms_name_id_idx.
CREATE INDEX vms_owner_name_id_idx ON vms (owner, name, id);
DROP INDEX vms_owner_idx;

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON vm_counts TO %I', '${app_user}');
END
$do$;
