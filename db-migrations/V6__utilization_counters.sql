-- Utilization counters (issue 8): samples from the engine's sampler, kept raw for a day, rolled up into
-- one-minute and one-hour min/avg/max series kept for a week and for 400 days (configurable, see
-- docs/operator-guide.md). All three tables are partitioned by time, so that expiry drops whole
-- partitions instead of deleting rows one by one from a table that grows all the time.
--
-- One row per target (a VM or a host) and time: the values of all its series at once, as an array in
-- the order its layout names them ({cpu, vcpu.0, memory.resident, disk.disk0.read-bytes, ...}). A
-- thousand VMs sampled every 5 s are 200 rows a second, not the 2,000 that one row per value would be.

CREATE TABLE counter_layouts (
    id      integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    names   text[]      NOT NULL UNIQUE CHECK (cardinality(names) BETWEEN 1 AND 1000)
);

-- Raw samples: hourly partitions, counter_samples_hYYYYMMDDHH.
CREATE TABLE counter_samples (
    target  text        NOT NULL,              -- 'vm:<id>' or 'host:<id>'
    at      timestamptz NOT NULL,              -- end of the interval the sample covers
    layout  integer     NOT NULL,              -- counter_layouts.id
    seconds real        NOT NULL,              -- length of that interval
    v       real[]      NOT NULL
) PARTITION BY RANGE (at);
CREATE INDEX counter_samples_target_at ON counter_samples (target, at);

-- One-minute rollups (daily partitions, counter_minutes_dYYYYMMDD) and one-hour rollups (monthly
-- partitions, counter_hours_mYYYYMM): for each series, the minimum, mean and maximum of the samples in
-- the bucket that starts at 'at'; 'samples' is how many there were (to weigh means when rolling up).
CREATE TABLE counter_minutes (
    target  text        NOT NULL,
    at      timestamptz NOT NULL,
    layout  integer     NOT NULL,
    samples integer     NOT NULL,
    mins    real[]      NOT NULL,
    avgs    real[]      NOT NULL,
    maxs    real[]      NOT NULL,
    PRIMARY KEY (target, at, layout)
) PARTITION BY RANGE (at);

CREATE TABLE counter_hours (LIKE counter_minutes INCLUDING ALL) PARTITION BY RANGE (at);

-- How far each rollup has got: buckets before done_until are complete.
CREATE TABLE counter_rollups (
    resolution  text        PRIMARY KEY CHECK (resolution IN ('minute', 'hour')),
    done_until  timestamptz NOT NULL
);

-- The partitioned tables' partition sizes and names, in one place for both functions below.
CREATE FUNCTION counter_partition_unit(parent text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE parent WHEN 'counter_samples' THEN 'hour' WHEN 'counter_minutes' THEN 'day'
                             WHEN 'counter_hours' THEN 'month' END $$;

CREATE FUNCTION counter_partition_name(parent text, start timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT parent || '_' || CASE counter_partition_unit(parent)
                 WHEN 'hour' THEN 'h' || to_char(start AT TIME ZONE 'UTC', 'YYYYMMDDHH24')
                 WHEN 'day' THEN 'd' || to_char(start AT TIME ZONE 'UTC', 'YYYYMMDD')
                 ELSE 'm' || to_char(start AT TIME ZONE 'UTC', 'YYYYMM') END $$;

-- Makes sure partitions exist for every time from 'from_at' to 'to_at' in the parent's table; returns
-- the partitions it created. The application role may not create tables: it calls this function,
-- which runs with its owner's rights (SECURITY DEFINER) and can only make these tables' partitions.
CREATE FUNCTION counter_partitions_create(parent text, from_at timestamptz, to_at timestamptz)
    RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$
DECLARE
    unit  text := counter_partition_unit(parent);
    step  interval;
    start timestamptz;
    name  text;
BEGIN
    IF unit IS NULL THEN
        RAISE EXCEPTION 'not a counter table: %', parent;
    END IF;
    IF to_at - from_at > interval '800 days' THEN
        RAISE EXCEPTION 'refusing to create partitions for % from % to %: too long a span', parent, from_at, to_at;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(parent));
    step := ('1 ' || unit)::interval;
    start := date_trunc(unit, from_at, 'UTC');
    WHILE start <= to_at LOOP
        name := counter_partition_name(parent, start);
        IF to_regclass(quote_ident(name)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           name, parent, start, start + step);
            RETURN NEXT name;
        END IF;
        start := start + step;
    END LOOP;
END
$$;

-- Drops the parent's partitions whose every row is older than 'keep' before 'now': expiry is DROP
-- TABLE, never DELETE. Returns the partitions it dropped.
CREATE FUNCTION counter_partitions_expire(parent text, now timestamptz, keep interval)
    RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$
DECLARE
    unit text := counter_partition_unit(parent);
    part record;
BEGIN
    IF unit IS NULL THEN
        RAISE EXCEPTION 'not a counter table: %', parent;
    END IF;
    IF keep < interval '1 hour' THEN
        RAISE EXCEPTION 'refusing to keep % for less than an hour (asked: %)', parent, keep;
    END IF;
    FOR part IN
        SELECT c.relname,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent::regclass
    LOOP
        IF part.upper <= now - keep THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
END
$$;

-- The rollups, as functions so that the server and the benchmark run the same statements. Each rolls
-- up [from_at, to_at) of the finer table into the coarser one and returns the rows it wrote; a bucket
-- rolled up before is left as it is. Means of means are weighted by the samples behind each.
CREATE FUNCTION counter_roll_up_minutes(from_at timestamptz, to_at timestamptz) RETURNS bigint
    LANGUAGE sql SET search_path FROM CURRENT
    AS $$
    WITH written AS (
        INSERT INTO counter_minutes (target, at, layout, samples, mins, avgs, maxs)
        SELECT target, bucket, layout, max(n), array_agg(mn ORDER BY i), array_agg(av ORDER BY i), array_agg(mx ORDER BY i)
        FROM (SELECT s.target, date_trunc('minute', s.at) AS bucket, s.layout, e.i, count(*) AS n,
                     min(e.x) AS mn, avg(e.x)::real AS av, max(e.x) AS mx
              FROM counter_samples s, unnest(s.v) WITH ORDINALITY AS e(x, i)
              WHERE s.at >= from_at AND s.at < to_at
              GROUP BY 1, 2, 3, 4) per_series
        GROUP BY target, bucket, layout
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT count(*) FROM written
    $$;

CREATE FUNCTION counter_roll_up_hours(from_at timestamptz, to_at timestamptz) RETURNS bigint
    LANGUAGE sql SET search_path FROM CURRENT
    AS $$
    WITH written AS (
        INSERT INTO counter_hours (target, at, layout, samples, mins, avgs, maxs)
        SELECT target, bucket, layout, max(n), array_agg(mn ORDER BY i), array_agg(av ORDER BY i), array_agg(mx ORDER BY i)
        FROM (SELECT m.target, date_trunc('hour', m.at) AS bucket, m.layout, e.i, sum(m.samples) AS n,
                     min(e.mn) AS mn, (sum(e.av * m.samples) / sum(m.samples))::real AS av, max(e.mx) AS mx
              FROM counter_minutes m, unnest(m.mins, m.avgs, m.maxs) WITH ORDINALITY AS e(mn, av, mx, i)
              WHERE m.at >= from_at AND m.at < to_at
              GROUP BY 1, 2, 3, 4) per_series
        GROUP BY target, bucket, layout
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT count(*) FROM written
    $$;

REVOKE ALL ON FUNCTION counter_partitions_create(text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION counter_partitions_expire(text, timestamptz, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION counter_roll_up_minutes(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION counter_roll_up_hours(timestamptz, timestamptz) FROM PUBLIC;

DO $do$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON counter_layouts TO %I', '${app_user}');
    EXECUTE format('GRANT SELECT, INSERT ON counter_samples, counter_minutes, counter_hours TO %I', '${app_user}');
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON counter_rollups TO %I', '${app_user}');
    EXECUTE format('GRANT EXECUTE ON FUNCTION counter_partitions_create(text, timestamptz, timestamptz) TO %I', '${app_user}');
    EXECUTE format('GRANT EXECUTE ON FUNCTION counter_partitions_expire(text, timestamptz, interval) TO %I', '${app_user}');
    EXECUTE format('GRANT EXECUTE ON FUNCTION counter_roll_up_minutes(timestamptz, timestamptz) TO %I', '${app_user}');
    EXECUTE format('GRANT EXECUTE ON FUNCTION counter_roll_up_hours(timestamptz, timestamptz) TO %I', '${app_user}');
END
$do$;
