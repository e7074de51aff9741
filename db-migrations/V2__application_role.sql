-- The role the application connects as (quarkus.datasource.username). The migrations run as the
-- owner of the schema (quarkus.flyway.username); the application gets only the rights it needs, and on
-- the audit log only SELECT and INSERT: no UPDATE, DELETE or TRUNCATE, so the log is append-only even
-- for the application. Every later migration that adds a table grants on it the same way, explicitly.
--
-- The role's name and password come from configuration through Flyway placeholders (see
-- application.properties); neither may contain a single quote. The role is created if it does not
-- exist; a role that exists already, for instance one a DBA made, keeps its password.
DO $do$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${app_user}') THEN
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', '${app_user}', '${app_password}');
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), '${app_user}');
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON hosts, templates, vms, disks, nics, jobs TO %I', '${app_user}');
    EXECUTE format('GRANT SELECT, INSERT ON audit_log TO %I', '${app_user}');
END
$do$;
