package io.hypervise.server.policy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.access.Caller;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import jakarta.enterprise.context.ApplicationScoped;
import io.quarkus.panache.common.Sort;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import io.hypervise.server.api.NotFoundRefusal;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.engine.vm.definition.VmDefinitionValidator;
import io.hypervise.server.inventory.ResourceColumns;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** Writing policies: every field checked and every broken rule named; every change audited. */
@ApplicationScoped
public class Policies {

    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");
    private static final int MAX_ENTRIES = 500;
    private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule());

    @Inject
    AuditLog audit;

    @Transactional
    public PolicyEntity create(PolicyRequest request, Caller caller) {
        List<FieldError> v = check(request, true);
        if (v.stream().noneMatch(x -> x.field().equals("id") || x.field().equals("body"))
                && PolicyEntity.findById(request.id()) != null) {
            v.add(new FieldError("id", "a policy '" + request.id() + "' exists already; PUT /api/v1/policies/"
                    + request.id() + " changes it"));
        }
        throwIfAny(v);
        PolicyEntity p = new PolicyEntity();
        p.id = request.id();
        p.createdAt = Instant.now();
        apply(p, request);
        p.persist();
        audit.record(caller, "policy.create", "policy:" + p.id, settings(p), AuditOutcome.SUCCEEDED, null);
        return p;
    }

    @Transactional
    public PolicyEntity replace(String id, PolicyRequest request, Caller caller) {
        PolicyEntity p = find(id);
        List<FieldError> v = check(request, false);
        if (request != null && request.id() != null && !request.id().equals(id)) {
            v.add(new FieldError("id", "is '" + id + "' in the path; a policy's id cannot change"));
        }
        throwIfAny(v);
        Map<String, Object> before = settings(p);
        apply(p, request);
        p.persist();
        Map<String, Object> after = settings(p);
        Map<String, Object> changes = new LinkedHashMap<>();
        after.forEach((k, value) -> {
            if (!Objects.equals(before.get(k), value)) {
                changes.put(k, Map.of("from", String.valueOf(before.get(k)), "to", String.valueOf(value)));
            }
        });
        audit.record(caller, "policy.update", "policy:" + id, changes, AuditOutcome.SUCCEEDED, null);
        return p;
    }

    /**
     * Sets the resource controls the policy gives every VM, its other settings as they are: a replacement like the
     * API's PUT, checked and audited as one.
     */
    @Transactional
    public PolicyEntity changeVmResources(String id, Resources vmResources, Caller caller) {
        PolicyView p = PolicyView.of(find(id));
        return replace(id, new PolicyRequest(p.id(), p.name(), p.description(), p.precedence(), p.enforced(),
                p.assignedGroups(), p.assignedUsers(), p.hostGroups(), p.templates(), p.actions(), p.maxVms(), p.maxVcpus(),
                p.maxMemoryMib(), p.maxDiskMib(), p.maxVmVcpus(), p.maxVmMemoryMib(), p.maxVmDiskMib(), p.leaseDays(),
                p.switches(), p.libraryItems(), p.maxLibraryMib(), vmResources), caller);
    }

    @Transactional
    public void delete(String id, Caller caller) {
        PolicyEntity p = find(id);
        Map<String, Object> was = settings(p);
        p.delete();
        audit.record(caller, "policy.delete", "policy:" + id, was, AuditOutcome.SUCCEEDED, null);
    }

    /** Every policy, by precedence (few: no paging). */
    @Transactional
    public List<PolicyView> list() {
        return PolicyEntity.<PolicyEntity>listAll(Sort.by("precedence").and("id")).stream().map(PolicyView::of).toList();
    }

    /** The policy as the API shows it; 404 where there is none. */
    @Transactional
    public PolicyView get(String id) {
        return PolicyView.of(find(id));
    }

    @Transactional
    public PolicyEntity find(String id) {
        PolicyEntity p = id != null && ID.matcher(id).matches() ? PolicyEntity.findById(id) : null;
        if (p == null) {
            throw new NotFoundRefusal("no policy '" + id + "'");
        }
        return p;
    }

    private static void apply(PolicyEntity p, PolicyRequest r) {
        p.name = r.name();
        p.description = r.description() == null ? "" : r.description();
        p.precedence = r.precedence();
        p.enforced = Boolean.TRUE.equals(r.enforced());
        p.assignedGroups = array(r.assignedGroups(), new String[0]);
        p.assignedUsers = array(r.assignedUsers(), new String[0]);
        p.hostGroups = array(r.hostGroups(), null);
        p.templates = array(r.templates(), null);
        p.actions = array(r.actions(), null);
        p.maxVms = r.maxVms();
        p.maxVcpus = r.maxVcpus();
        p.maxMemoryMib = r.maxMemoryMib();
        p.maxDiskMib = r.maxDiskMib();
        p.maxVmVcpus = r.maxVmVcpus();
        p.maxVmMemoryMib = r.maxVmMemoryMib();
        p.maxVmDiskMib = r.maxVmDiskMib();
        p.leaseDays = r.leaseDays();
        p.switches = array(r.switches(), null);
        p.libraryItems = array(r.libraryItems(), null);
        p.maxLibraryMib = r.maxLibraryMib();
        p.vmResources = r.vmResources() == null || r.vmResources().isNone() ? null : ResourceColumns.of(r.vmResources());
        p.updatedAt = Instant.now();
    }

    private static String[] array(List<String> values, String[] absent) {
        return values == null ? absent : values.stream().distinct().toArray(String[]::new);
    }

    static List<FieldError> check(PolicyRequest r, boolean needsId) {
        List<FieldError> v = new ArrayList<>();
        if (r == null) {
            v.add(new FieldError("body", "is required: a JSON object describing the policy"));
            return v;
        }
        if (needsId && (r.id() == null || !ID.matcher(r.id()).matches())) {
            v.add(new FieldError("id", "is required: 1 to 40 lower-case letters, digits or dashes, starting with a letter or digit"));
        }
        if (r.name() == null || r.name().isBlank()) {
            v.add(new FieldError("name", "is required"));
        } else if (r.name().length() > 64 || r.name().chars().anyMatch(Character::isISOControl)) {
            v.add(new FieldError("name", "must be at most 64 characters, without control characters"));
        }
        if (r.description() != null && (r.description().length() > 1000 || r.description().indexOf('\u0000') >= 0)) {
            v.add(new FieldError("description", "must be at most 1000 characters, without U+0000"));
        }
        if (r.precedence() == null || r.precedence() < 1 || r.precedence() > 1000) {
            v.add(new FieldError("precedence", "is required: a whole number from 1 (applied first) to 1000"));
        }
        names(v, "assignedGroups", r.assignedGroups());
        names(v, "assignedUsers", r.assignedUsers());
        ids(v, "hostGroups", r.hostGroups());
        ids(v, "templates", r.templates());
        ids(v, "switches", r.switches());
        ids(v, "libraryItems", r.libraryItems());
        if (r.actions() != null) {
            for (int i = 0; i < r.actions().size(); i++) {
                String a = r.actions().get(i);
                if (a == null || SelfServiceAction.of(a).isEmpty()) {
                    v.add(new FieldError("actions[" + i + "]", "must be one of "
                            + Arrays.stream(SelfServiceAction.values()).map(SelfServiceAction::id).toList() + "; got '" + a + "'"));
                }
            }
        }
        atLeastZero(v, "maxVms", r.maxVms());
        atLeastZero(v, "maxVcpus", r.maxVcpus());
        atLeastZero(v, "maxMemoryMib", r.maxMemoryMib());
        atLeastZero(v, "maxDiskMib", r.maxDiskMib());
        atLeastZero(v, "maxVmVcpus", r.maxVmVcpus());
        atLeastZero(v, "maxVmMemoryMib", r.maxVmMemoryMib());
        atLeastZero(v, "maxVmDiskMib", r.maxVmDiskMib());
        atLeastZero(v, "maxLibraryMib", r.maxLibraryMib());
        if (r.leaseDays() != null && (r.leaseDays() < 1 || r.leaseDays() > 3650)) {
            v.add(new FieldError("leaseDays", "must be from 1 to 3650 days, or left out for no lease"));
        }
        if (r.vmResources() != null) {
            checkVmResources(v, r.vmResources());
        }
        return v;
    }

    /** The controls a policy may impose on each VM: those that do not depend on the VM's own size. */
    private static void checkVmResources(List<FieldError> v, Resources r) {
        VmDefinitionValidator.resourceRanges(r, "vmResources").forEach(p -> v.add(new FieldError(p.field(), p.message())));
        if (r.memoryReservationMib() != null) {
            v.add(new FieldError("vmResources.memoryReservationMib", "depends on each VM's memory: an administrator sets it per VM"));
        }
        if (r.balloonTargetMib() != null) {
            v.add(new FieldError("vmResources.balloonTargetMib", "depends on each VM's memory: an administrator sets it per VM"));
        }
    }

    private static void names(List<FieldError> v, String field, List<String> values) {
        entries(v, field, values, s -> s != null && !s.isBlank() && s.length() <= 255 && s.chars().noneMatch(Character::isISOControl),
                s -> "must be a Keycloak name: 1 to 255 characters, without control characters");
    }

    private static void ids(List<FieldError> v, String field, List<String> values) {
        entries(v, field, values, s -> s != null && ID.matcher(s).matches(),
                s -> "must be an id: lower-case letters, digits or dashes; got '" + s + "'");
    }

    /** At most MAX_ENTRIES values, each one {@code valid}, or a violation naming its index. */
    private static void entries(List<FieldError> v, String field, List<String> values, Predicate<String> valid,
            Function<String, String> rule) {
        if (values == null) {
            return;
        }
        if (values.size() > MAX_ENTRIES) {
            v.add(new FieldError(field, "at most " + MAX_ENTRIES + " entries"));
            return;
        }
        for (int i = 0; i < values.size(); i++) {
            if (!valid.test(values.get(i))) {
                v.add(new FieldError(field + "[" + i + "]", rule.apply(values.get(i))));
            }
        }
    }

    private static void atLeastZero(List<FieldError> v, String field, Number value) {
        if (value != null && value.longValue() < 0) {
            v.add(new FieldError(field, "must be 0 or more, or left out for no limit"));
        }
    }

    private static void throwIfAny(List<FieldError> v) {
        if (!v.isEmpty()) {
            throw new InvalidRequestException("policy", v);
        }
    }

    /** The policy's settings as the audit log records them (without its timestamps). */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> settings(PolicyEntity p) {
        Map<String, Object> fields = JSON.convertValue(PolicyView.of(p), Map.class);
        fields.remove("createdAt");
        fields.remove("updatedAt");
        return fields;
    }
}
