-- The VM list is sorted by name, then id, and paged: without an index in that order PostgreSQL reads
-- and sorts every row to return fifty (4.3 ms per page at 10,000 VMs; 0.18 ms with it, measured by
-- bench/ `bin/hypervise bench api`).
CREATE INDEX vms_name_id_idx ON vms (name, id);
