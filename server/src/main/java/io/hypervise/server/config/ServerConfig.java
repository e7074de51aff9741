package io.hypervise.server.config;

import io.hypervise.server.database.EmbeddedPostgres;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Everything an operator sets for this server ({@code hypervise.*}): where it keeps its data, the engine's
 * QEMU and timeouts, leases, counters, Keycloak and its own PostgreSQL. Defaults suit a laptop: everything
 * under ./data. The engine never sees this type: {@link io.hypervise.server.engine.EngineLifecycle} turns
 * the engine's part into the engine's own {@code EngineConfig}.
 */
@ConfigMapping(prefix = "hypervise")
public interface ServerConfig {

    /** Where the host keeps its state and storage unless they are set one by one. */
    @WithDefault("data")
    Path dataDir();

    /** The engine's state directory (sockets, logs, saved states); default {@code <data-dir>/state}. */
    Optional<Path> stateDir();

    /** The storage root, the only folder VM images are opened from; default {@code <data-dir>/storage}. */
    Optional<Path> storageRoot();

    /**
     * This host's id in the inventory (lower-case letters, digits and dashes, at most 40); default: its
     * hostname, cut to that rule. Hosts sharing one database must have different ids.
     */
    Optional<String> hostId();

    /**
     * For tests only: names of points where the server halts at once, as a kill -9 would stop it
     * there (see {@code CrashPoints}). Never set in production.
     */
    Optional<String> crashAt();

    /** Where downloaded Debian packages for templates are cached; default ~/.cache/hypervise/downloads. */
    Optional<Path> downloadCache();

    @WithDefault("qemu-system-x86_64")
    String qemuBinary();

    /** auto, kvm or tcg. */
    @WithDefault("auto")
    String accelerator();

    /** How each VM's QEMU worker is confined (its own user, mount namespace, seccomp sandbox). */
    Confinement confinement();

    /**
     * Worker confinement. {@code mode}: {@code required} (a host that cannot confine workers runs no VMs, and
     * says why in its capabilities), {@code where-available} (such a host runs them unconfined, as root) or
     * {@code off}. Each VM gets a user and group of the same number from {@code first-uid} on, {@code uids} of
     * them: a range no account and no subordinate-id range on the host uses.
     */
    interface Confinement {
        @WithDefault("required")
        String mode();

        @WithDefault("640000")
        int firstUid();

        @WithDefault("65536")
        int uids();
    }

    /** How long a guest has to act on the power button before it is turned off. */
    @WithDefault("60s")
    Duration shutdownTimeout();

    DemoVm demoVm();

    /**
     * Starter self-service policies for the demo realm's groups (engineering, qa), created when the
     * server starts with none: without a policy, self-service users may do nothing.
     */
    @WithName("demo-policies.enabled")
    @WithDefault("false")
    boolean demoPolicies();

    Lease lease();

    Library library();

    /** The library: uploads, and where administrators may import host files from. */
    interface Library {
        /** An upload nobody has added to for this long is abandoned: removed with its bytes. */
        @WithDefault("P1D")
        Duration uploadExpiry();

        /** How often abandoned uploads are looked for. */
        @WithDefault("15m")
        Duration uploadSweep();

        /**
         * Folders whose files administrators may import into the library ({@code POST /api/v1/library/imports});
         * none by default, so no file of the host is reachable through the API until an operator says so.
         */
        Optional<List<Path>> importFolders();

        /** Free space the library always leaves on its file system, so an upload cannot fill the host's disk. */
        @WithDefault("1024")
        long reserveMib();
    }

    /** VMs with a lease (from their policy) are warned, then stopped when it ends, then deleted. */
    interface Lease {
        /** How long before a lease ends its VM is warned. */
        @WithDefault("P1D")
        Duration warning();

        /** How long after a lease ends its (stopped) VM is deleted. */
        @WithDefault("P7D")
        Duration grace();

        /** How often leases are looked at. */
        @WithDefault("1m")
        Duration sweep();
    }

    Cluster cluster();

    /**
     * This host's membership of the cluster: where other hosts' servers reach this one, and its lease (see
     * {@link io.hypervise.server.cluster.HostMembership}). The lease's expiry is counted by the database's clock.
     */
    interface Cluster {
        /** Where other servers reach this one; default {@code http://127.0.0.1:<quarkus.http.port>}. */
        Optional<String> address();

        Lease lease();

        /**
         * The confidential client whose service account (realm role {@code hypervise-host}) this server acts as
         * when it asks another host's server to carry out an operation (client credentials).
         */
        @WithDefault("hypervise-host")
        String serviceClientId();

        /** Its secret; the default is the demo realm's: set your own outside a demo. */
        @WithDefault("hypervise-host-demo-secret")
        String serviceClientSecret();

        Peer peer();

        /** Calls to another host's server: each has a deadline to connect and one for the whole answer. */
        interface Peer {
            @WithDefault("2s")
            Duration connectTimeout();

            /** For quick operations (pause, turn off, ...) and reads (serial console). */
            @WithDefault("30s")
            Duration requestTimeout();

            /** For operations that run as jobs (start, shut down, save): a shut-down waits for the guest. */
            @WithDefault("5m")
            Duration jobTimeout();
        }

        Migration migration();

        /** Live migrations arriving here (see {@link io.hypervise.server.vm.VmMigrations}). */
        interface Migration {
            /**
             * An arrival not handed over within this long is given up here (its source went quiet: it died, or the
             * network between went away); longer than any source lets a migration run (30 minutes).
             */
            @WithDefault("35m")
            Duration arrivalTimeout();

            /** How often this server looks over what is arriving here. */
            @WithDefault("5s")
            Duration sweep();
        }

        /** The host's lease: renewed every {@code renew}, lapsing {@code ttl} after the last renewal. */
        interface Lease {
            @WithDefault("2s")
            Duration renew();

            /** At least twice {@code renew}, so one late or failed renewal does not lose the lease. */
            @WithDefault("10s")
            Duration ttl();
        }
    }

    Counters counters();

    Placement placement();

    /** How this server publishes its host's facts for placement (see {@link io.hypervise.server.placement.HostFactsPublisher}). */
    interface Placement {
        /** How often this server publishes its host's memory, storage and CPU load; also how long one publication waits. */
        @WithDefault("15s")
        Duration publish();

        /** Memory the host keeps for itself (its kernel, this server, a PostgreSQL running here): VMs may use the rest. */
        @WithDefault("1024")
        long hostReserveMib();

        /** How far back the CPU load published is averaged over the counters' host samples. */
        @WithDefault("1m")
        Duration loadWindow();
    }

    /** Utilization counters: how often VMs and the host are sampled, and how long samples are kept. */
    interface Counters {
        /** Whether the engine samples at all. */
        @WithDefault("true")
        boolean enabled();

        /** How often every running VM and the host are sampled. */
        @WithDefault("5s")
        Duration period();

        /** How often rollups are computed and expired partitions dropped; 0 turns that off (tests drive it). */
        @WithDefault("1m")
        Duration maintenance();

        Retention retention();

        /** How long each resolution is kept, at least; partitions go whole, so up to one partition longer. */
        interface Retention {
            /** Raw samples (hourly partitions). */
            @WithDefault("PT24H")
            Duration samples();

            /** One-minute rollups (daily partitions). */
            @WithDefault("P7D")
            Duration minutes();

            /** One-hour rollups (monthly partitions). */
            @WithDefault("P400D")
            Duration hours();
        }
    }

    Keycloak keycloak();

    /** Where the realm lives; the OIDC settings refer to it. */
    interface Keycloak {
        @WithDefault("http://127.0.0.1:8180/realms/hypervise")
        String realmUrl();

        SignInEvents signInEvents();

        /**
         * Failed sign-ins and lockouts, read from the realm's events (admin API) into the audit log, as
         * the confidential client {@code client-id}, whose service account has only {@code view-events}.
         */
        interface SignInEvents {
            @WithDefault("hypervise-events")
            String clientId();

            @WithDefault("hypervise-events-demo-secret")
            String secret();

            /** How often Keycloak is asked for new events; 0 never. */
            @WithDefault("10s")
            Duration poll();
        }
    }

    Database database();

    /** A VM booted from the tiny-linux template when the server starts, so a newcomer sees a guest run. */
    interface DemoVm {
        @WithDefault("false")
        boolean enabled();

        @WithDefault("demo")
        String id();
    }

    /** The server's own PostgreSQL, used unless quarkus.datasource.jdbc.url names another. */
    interface Database {

        Embedded embedded();

        /**
         * Read while the configuration is assembled, before this mapping exists, by
         * {@link io.hypervise.server.database.EmbeddedPostgresConfigSourceFactory}; declared here to be
         * documented and checked with the other settings.
         */
        interface Embedded {
            /** Its programs, cluster, passwords and log; default {@code <data-dir>/postgres}. */
            Optional<Path> dir();

            /** The account it runs as when the server runs as root (PostgreSQL refuses root); created if missing. */
            @WithDefault(EmbeddedPostgres.DEFAULT_OS_USER)
            String osUser();

            /** Its TCP port on 127.0.0.1; 0 picks a free one at each start. */
            @WithDefault(EmbeddedPostgres.DEFAULT_PORT)
            int port();

            /**
             * An address it listens on besides 127.0.0.1, where other hosts' servers reach the cluster's database;
             * default 127.0.0.1 (none). Needs a fixed {@link #port()}.
             */
            @WithDefault(EmbeddedPostgres.DEFAULT_LISTEN_ADDRESS)
            String listenAddress();
        }
    }
}
