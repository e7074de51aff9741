package io.hypervise.server.network;

import io.hypervise.engine.Engine;
import io.hypervise.engine.network.HostAddress;
import io.hypervise.engine.network.NetworkException;
import io.hypervise.engine.network.SwitchKind;
import io.hypervise.engine.network.VirtualSwitch;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.SelfServicePolicies;
import io.quarkus.panache.common.Sort;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;
import io.hypervise.server.api.NotFoundRefusal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * The host's virtual switches: PostgreSQL keeps them, the engine makes them. Every change is checked
 * field by field, made in the kernel inside the inventory's transaction (so a refused change leaves no
 * row), and audited.
 */
@ApplicationScoped
public class Switches {

    private static final Logger LOG = Logger.getLogger(Switches.class);

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    @Inject
    AuditLog audit;

    @Inject
    EntityManager em;

    @Inject
    SelfServicePolicies policies;

    /** The kernel forgets bridges when the host reboots: make every switch the inventory knows. */
    void onStart(@Observes @Priority(5) StartupEvent event) {
        List<SwitchEntity> all = all();
        if (all.isEmpty()) {
            return;
        }
        if (engine.switches().unavailable().isPresent()) {
            LOG.warnf("%d virtual switch(es) cannot be made: %s", all.size(), engine.switches().unavailable().get());
            return;
        }
        for (SwitchEntity s : all) {
            try {
                engine.switches().ensure(s.toEngine());
            } catch (NetworkException e) {
                LOG.errorf("virtual switch '%s' (%s) could not be made: %s", s.name, s.id, e.getMessage());
            }
        }
    }

    @Transactional
    public List<SwitchEntity> all() {
        return SwitchEntity.listAll(Sort.by("name").and("id"));
    }

    @Transactional
    public Optional<SwitchEntity> find(String id) {
        return id == null || !VirtualSwitches.ID.matcher(id).matches() ? Optional.empty()
                : Optional.ofNullable(SwitchEntity.findById(id));
    }

    public SwitchEntity get(String id) {
        return find(id).orElseThrow(() -> new NotFoundRefusal("no virtual switch '" + id + "'"));
    }

    /** Which switches the caller may plug VMs' adapters into (see {@link SwitchAllowance}). */
    public SwitchAllowance allowanceOf(Caller caller) {
        if (caller.reach(Permission.SWITCH_MANAGE) == Reach.ALL) {
            return SwitchAllowance.ANY;
        }
        if (!policies.govern(caller, Permission.VM_CREATE)) {
            return SwitchAllowance.NONE;
        }
        EffectivePolicy policy = policies.effective(caller);
        return SwitchAllowance.byPolicies(policy.switches().configured() ? policy.switches().value() : Set.of());
    }

    /** Why this host cannot run switches, if it cannot. */
    public Optional<String> unavailable() {
        return engine.switches().unavailable();
    }

    @Transactional
    public SwitchEntity create(SwitchRequest request, Caller caller) {
        List<FieldError> v = new ArrayList<>();
        SwitchKind kind = check(request, v);
        if (!v.isEmpty()) {
            throw new InvalidRequestException("virtual switch", v);
        }
        String name = request.name() == null ? request.id() : request.name();
        if (SwitchEntity.findById(request.id()) != null) {
            v.add(new FieldError("id", "a virtual switch '" + request.id() + "' exists already"));
        }
        if (SwitchEntity.count("hostId = ?1 and name = ?2", localHost.id(), name) > 0) {
            v.add(new FieldError("name", "this host has a virtual switch named '" + name + "' already"));
        }
        if (!v.isEmpty()) {
            throw new InvalidRequestException("virtual switch", v);
        }
        SwitchEntity s = new SwitchEntity();
        s.id = request.id();
        s.hostId = localHost.id();
        s.name = name;
        s.kind = kind.label();
        s.hostAddress = kind == SwitchKind.INTERNAL ? HostAddress.parse(request.hostAddress()).toString() : null;
        s.createdAt = Instant.now();
        s.persist();
        em.flush(); // the row's rules hold before the kernel is touched
        try {
            engine.switches().ensure(s.toEngine());
        } catch (NetworkException e) {
            if (e.reason() == NetworkException.Reason.INVALID) {
                throw new InvalidRequestException("virtual switch", List.of(new FieldError("hostAddress", e.getMessage())));
            }
            throw e;
        }
        audit.record(caller, "switch.create", "switch:" + s.id, settings(s), AuditOutcome.SUCCEEDED, null);
        LOG.infof("virtual switch '%s' (%s, %s) created by %s", s.name, s.id, s.kind, caller.username());
        return s;
    }

    /** Deletes the switch; refused (409) while any VM has an adapter on it, running or not. */
    @Transactional
    public void delete(String id, Caller caller) {
        SwitchEntity s = get(id);
        List<SwitchView.Adapter> adapters = adapters(id);
        if (!adapters.isEmpty()) {
            throw new NetworkException(NetworkException.Reason.IN_USE, "virtual switch '" + s.name + "' has adapters of "
                    + adapters.stream().map(a -> a.vmName() + " (" + a.vm() + ")").distinct().collect(Collectors.joining(", "))
                    + " on it; move those adapters to another network (the VM's settings, while it is Off)"
                    + " or delete the VMs first");
        }
        Map<String, Object> was = settings(s);
        s.delete();
        em.flush();
        if (engine.switches().find(id).isPresent()) {
            engine.switches().delete(id);
        }
        audit.record(caller, "switch.delete", "switch:" + id, was, AuditOutcome.SUCCEEDED, null);
        LOG.infof("virtual switch '%s' (%s) deleted by %s", s.name, id, caller.username());
    }

    /** The VM adapters configured on the switch, in VM name order. */
    @Transactional
    public List<SwitchView.Adapter> adapters(String switchId) {
        List<Object[]> rows = em.createQuery("select v.id, v.name, n.position, n.mac, n.vlan from NicEntity n join n.vm v"
                + " where n.switchId = :s order by v.name, v.id, n.position", Object[].class)
                .setParameter("s", switchId).getResultList();
        return rows.stream().map(r -> new SwitchView.Adapter((String) r[0], (String) r[1], "net" + r[2], (String) r[3],
                (Integer) r[4])).toList();
    }

    /** The switch as the API shows it: the inventory's record, what the kernel has, the ports plugged in now. */
    public SwitchView view(SwitchEntity s, Set<String> present) {
        return SwitchView.of(s, present.contains(s.id), adapters(s.id), engine.switches().ports(s.id));
    }

    /** Every switch of this host as the API shows it (few: no paging), and why the host cannot run switches, if it cannot. */
    public record Listing(List<SwitchView> items, String unavailable) {
    }

    public Listing list() {
        Set<String> present = present();
        return new Listing(all().stream().map(s -> view(s, present)).toList(), unavailable().orElse(null));
    }

    /** The switch as the API shows it; 404 for one there is not. */
    public SwitchView view(String id) {
        return view(get(id), present());
    }

    /** The ids of the switches the host has now. */
    public Set<String> present() {
        return engine.switches().list().stream().map(VirtualSwitch::id).collect(Collectors.toSet());
    }

    private static SwitchKind check(SwitchRequest r, List<FieldError> v) {
        if (r == null) {
            v.add(new FieldError("body", "is required: a JSON object with id, kind and, for an internal switch, hostAddress"));
            return null;
        }
        if (r.id() == null || !VirtualSwitches.ID.matcher(r.id()).matches()) {
            v.add(new FieldError("id", "is required and " + VirtualSwitches.ID_RULE));
        }
        if (r.name() != null && (r.name().isBlank() || r.name().length() > 64 || r.name().chars().anyMatch(Character::isISOControl))) {
            v.add(new FieldError("name", "must be 1 to 64 characters, without control characters"));
        }
        Optional<SwitchKind> kind = r.kind() == null ? Optional.empty() : SwitchKind.of(r.kind());
        if (kind.isEmpty()) {
            v.add(new FieldError("kind", "is required: private (VMs reach each other only) or internal (and the host)"));
        } else if (kind.get() == SwitchKind.PRIVATE && r.hostAddress() != null) {
            v.add(new FieldError("hostAddress", "must be absent: the host has no address on a private switch"));
        } else if (kind.get() == SwitchKind.INTERNAL) {
            if (r.hostAddress() == null) {
                v.add(new FieldError("hostAddress", "is required for an internal switch: the host's address on it, e.g. 10.77.0.1/24"));
            } else {
                try {
                    HostAddress.parse(r.hostAddress());
                } catch (NetworkException e) {
                    v.add(new FieldError("hostAddress", e.getMessage().replaceFirst("^hostAddress ", "")));
                }
            }
        }
        return kind.orElse(null);
    }

    private static Map<String, Object> settings(SwitchEntity s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.name);
        m.put("kind", s.kind);
        if (s.hostAddress != null) {
            m.put("hostAddress", s.hostAddress);
        }
        return m;
    }
}
