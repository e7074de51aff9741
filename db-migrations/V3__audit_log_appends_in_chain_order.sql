-- The audit log is appended to in chain order, and the database itself holds every writer to that:
-- a new entry must name the last entry's hash as its predecessor (the first names 64 zeros) and come
-- after it in id order. V1 numbers entries (GENERATED ALWAYS), but INSERT ... OVERRIDING SYSTEM VALUE
-- would still let a role with INSERT choose an id, for instance one before the entries it wants to
-- hide behind; this trigger refuses that, and refuses an entry that forks or skips the chain.
-- Appenders serialize on an advisory lock (AuditLog), so for them the last entry is always theirs to
-- follow; the unique prev_hash of V1 still catches two writers that do not take the lock.
CREATE FUNCTION audit_log_appends_in_chain_order() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    last_id   bigint;
    last_hash text;
BEGIN
    SELECT id, hash INTO last_id, last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    IF last_id IS NOT NULL AND NEW.id <= last_id THEN
        RAISE EXCEPTION 'audit_log entries are only appended: id % is not after the last entry (%)', NEW.id, last_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.prev_hash IS DISTINCT FROM coalesce(last_hash, repeat('0', 64)) THEN
        RAISE EXCEPTION 'audit_log entries continue the chain: prev_hash must be the hash of the last entry (id %)',
            coalesce(last_id::text, 'none: the first entry names 64 zeros')
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER audit_log_appends_in_chain_order
    BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_appends_in_chain_order();
