package io.hypervise.server.audit;

import io.hypervise.server.access.Caller;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Audits requests refused before they reach an endpoint (401 and 403): one entry each, in a
 * transaction of its own, with the action {@code http.<method>} and the request's path as target.
 */
@ApplicationScoped
public class DeniedRequests {

    private static final Logger LOG = Logger.getLogger(DeniedRequests.class);

    @Inject
    AuditLog log;

    public void record(Caller caller, String method, String path, int status, String reason) {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("method", method);
        parameters.put("path", path);
        parameters.put("status", status);
        try {
            log.recordDenial(caller, action(method), path, parameters, reason);
        } catch (RuntimeException e) {
            // The request is refused whether or not its record can be written; this line is then its
            // only trace, and an unwritable audit log is an operator's emergency.
            LOG.errorf(e, "AUDIT LOG NOT WRITTEN: denied %s %s to %s (%d: %s)", method, path, caller.username(), status, reason);
        }
    }

    /** {@code GET} becomes {@code http.get}: the audit log's actions are dotted lower-case words. */
    static String action(String method) {
        String word = method.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
        return "http." + (word.isEmpty() || !Character.isLetter(word.charAt(0)) ? "x" + word : word);
    }
}
