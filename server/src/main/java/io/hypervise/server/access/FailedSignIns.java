package io.hypervise.server.access;

import io.hypervise.server.access.KeycloakEventFeed.FeedException;
import io.hypervise.server.access.KeycloakEventFeed.SignInEvent;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.config.ServerConfig;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Brings the sign-ins Keycloak refused, and the lockouts its brute-force protection imposed, into
 * the audit log: {@code auth.login.failed} (actor "anonymous", since whoever typed the password is
 * who we could not verify) and {@code auth.user.locked} (actor "keycloak"), each naming the user as
 * target ({@code user:alice}), Keycloak's event id and time, client and error. The audit log is then
 * the one place an auditor reads, and it keeps them hash-chained, after Keycloak expires its events.
 *
 * <p>Each event is imported once, whatever the restarts or the number of servers: where to start is
 * the newest imported event's time, read back from the audit log, and an event already there (by
 * its id) is skipped, under an advisory lock that the servers' imports take in turn.
 */
@ApplicationScoped
public class FailedSignIns {

    private static final Logger LOG = Logger.getLogger(FailedSignIns.class);

    /** Serializes imports across servers ("hvsignin" in ASCII); taken before the audit log's own lock. */
    private static final long IMPORT_LOCK = 0x68767369676e696eL;
    private static final int PAGE = 100;
    private static final String FAILED = "auth.login.failed";
    private static final String LOCKED = "auth.user.locked";

    @Inject
    ServerConfig config;

    @Inject
    KeycloakEventFeed feed;

    @Inject
    AuditLog audit;

    @Inject
    EntityManager em;

    /** User names by Keycloak user id, from the failures seen: a lockout event names only the id. */
    private final Map<String, String> usernames = new ConcurrentHashMap<>();
    private ScheduledExecutorService timer;
    private volatile String lastProblem;

    void onStart(@Observes StartupEvent event) {
        long every = config.keycloak().signInEvents().poll().toMillis();
        if (every <= 0) {
            return;
        }
        timer = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("failed-sign-ins").factory());
        timer.scheduleWithFixedDelay(this::importQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    private void importQuietly() {
        try {
            importNew();
            if (lastProblem != null) {
                LOG.infof("reading Keycloak's sign-in events again");
                lastProblem = null;
            }
        } catch (FeedException | RuntimeException e) {
            // Said once, not every few seconds while Keycloak is away; the next round tries again.
            if (!String.valueOf(e.getMessage()).equals(lastProblem)) {
                LOG.warnf("failed sign-ins cannot be brought into the audit log now: %s", e.getMessage());
                lastProblem = String.valueOf(e.getMessage());
            }
        }
    }

    /** Imports every event not yet in the audit log. Returns how many it imported. */
    public int importNew() throws FeedException {
        int imported = 0;
        while (true) {
            List<SignInEvent> events = feed.since(QuarkusTransaction.requiringNew().call(this::newestImported), PAGE);
            int added = QuarkusTransaction.requiringNew().call(() -> record(events));
            imported += added;
            if (events.size() < PAGE || added == 0) {
                return imported;
            }
        }
    }

    private Instant newestImported() {
        Object newest = em.createNativeQuery("SELECT max(CAST(parameters->>'at' AS timestamptz)) FROM audit_log"
                + " WHERE action IN (?1, ?2)").setParameter(1, FAILED).setParameter(2, LOCKED).getSingleResult();
        return switch (newest) {
            case OffsetDateTime time -> time.toInstant();
            case Instant time -> time;
            case java.sql.Timestamp time -> time.toInstant();
            case null, default -> Instant.EPOCH;
        };
    }

    private int record(List<SignInEvent> events) {
        em.createNativeQuery("SELECT pg_advisory_xact_lock(?1)").setParameter(1, IMPORT_LOCK).getSingleResult();
        int added = 0;
        for (SignInEvent event : events) {
            if (event.username() != null && event.userId() != null) {
                usernames.put(event.userId(), event.username());
            }
            if (event.id() == null || imported(event.id())) {
                continue;
            }
            boolean lockout = !event.type().equals("LOGIN_ERROR");
            Caller actor = new Caller(lockout ? "keycloak" : Caller.ANONYMOUS, Set.of(), Set.of(),
                    event.address() == null ? "unknown" : event.address());
            audit.record(actor, lockout ? LOCKED : FAILED, target(event), parameters(event), AuditOutcome.DENIED,
                    lockout ? lockoutReason(event.type()) : failureReason(event.error()));
            added++;
        }
        return added;
    }

    private boolean imported(String eventId) {
        return !em.createNativeQuery("SELECT 1 FROM audit_log WHERE action IN (?1, ?2) AND parameters->>'event' = ?3")
                .setParameter(1, FAILED).setParameter(2, LOCKED).setParameter(3, eventId).getResultList().isEmpty();
    }

    private String target(SignInEvent event) {
        String name = event.username() != null ? event.username() : usernames.get(event.userId());
        if (name != null) {
            return "user:" + name;
        }
        return event.userId() == null ? null : "user-id:" + event.userId();
    }

    private static Map<String, Object> parameters(SignInEvent event) {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("event", event.id());
        parameters.put("at", event.at().toString());
        parameters.put("type", event.type());
        parameters.put("client", event.client());
        parameters.put("error", event.error());
        parameters.put("userId", event.userId());
        return parameters;
    }

    /** Keycloak's error codes, in words; the code itself is in the parameters. */
    static String failureReason(String error) {
        String words = switch (error == null ? "" : error) {
            case "invalid_user_credentials" -> "wrong password";
            case "user_not_found" -> "no such user";
            case "user_temporarily_disabled" -> "refused while the user is locked out after too many failed sign-ins";
            case "user_disabled" -> "the user is disabled";
            default -> "Keycloak refused the sign-in";
        };
        return words + " (Keycloak: " + (error == null ? "no error code" : error) + ")";
    }

    static String lockoutReason(String type) {
        return type.equals("USER_DISABLED_BY_PERMANENT_LOCKOUT")
                ? "locked out after too many failed sign-ins, until an administrator unlocks the user in Keycloak"
                : "locked out for a while after too many failed sign-ins (Keycloak's brute-force protection)";
    }
}
