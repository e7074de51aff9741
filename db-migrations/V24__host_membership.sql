-- Host membership (issue 19, item 1): the cluster's hosts share one PostgreSQL, the single source of truth.
-- Each host's server holds a lease on its own row, renewed every few seconds, whose expiry is computed by the
-- DATABASE's clock (clock_timestamp()), never a server's: servers' clocks may disagree, the database's is one.
--
-- epoch only grows. A server bumps it when it joins (at every start) and renews only while the epoch is still
-- the one it joined with: whoever bumps it (the host joining again, its removal, a manager declaring it gone)
-- takes the lease away from the old holder for good. A change of the host owning a VM is one transaction that
-- checks the epochs it was decided on (a fencing token), so a host that was declared gone and comes back can
-- never act on a decision taken before.
--
-- Not session advisory locks: they vanish with a connection while the host's VMs keep running.
ALTER TABLE hosts
    ADD COLUMN epoch            bigint      NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    -- null: the host never joined (a row from before this migration, or made by hand)
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN lease_renewed_at timestamptz,
    -- where other hosts' servers reach this host's (hypervise.cluster.address)
    ADD COLUMN address          text        CHECK (length(address) <= 2048 AND address !~ '[[:cntrl:]]'),
    -- an operator's mark: the host runs what it runs, but takes no new VMs
    ADD COLUMN maintenance      boolean     NOT NULL DEFAULT false,
    -- when an administrator removed the host from the cluster; the row stays, as history refers to it
    ADD COLUMN left_at          timestamptz;

-- The hosts table is already the application's (V2): no new grant needed for new columns.
