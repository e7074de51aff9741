package io.hypervise.server.counters;

import io.hypervise.engine.Engine;
import io.hypervise.engine.counters.VmSample.NicSample;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.InventoryUnavailableException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Answers the metrics endpoints: parses the window, picks the resolution, reads the series. */
@ApplicationScoped
public class CounterQueries {

    @Inject
    CounterStore store;

    @Inject
    ServerConfig config;

    @Inject
    Engine engine;

    /** The window and step asked for, checked (400 naming each broken rule). */
    public CounterRange range(String from, String to, String step) {
        return CounterRange.parse(from, to, step, Instant.now(), config.counters().period(),
                config.counters().retention());
    }

    public CounterSeriesView vm(String id, CounterRange range) {
        List<CounterSeriesView.Unavailable> unavailable = new ArrayList<>();
        try {
            List<Nic> nics = engine.vms().status(id).definition().nics();
            for (int i = 0; i < nics.size(); i++) {
                String series = "nic.net" + i;
                NicSample.uncounted(nics.get(i)).ifPresent(why -> unavailable.add(new CounterSeriesView.Unavailable(series, why)));
            }
        } catch (VmNotFoundException e) {
            // in the inventory but not (yet) in the engine: nothing is sampled, nothing to explain
        }
        return read(Target.vm(id), range, unavailable);
    }

    public CounterSeriesView host(String id, CounterRange range) {
        return read(Target.host(id), range, List.of());
    }

    private CounterSeriesView read(Target target, CounterRange range, List<CounterSeriesView.Unavailable> unavailable) {
        List<CounterSeriesView.Series> series = new ArrayList<>();
        try {
            store.read(target, range.from(), range.to(), range.step(), range.resolution()).forEach((name, points) ->
                    series.add(new CounterSeriesView.Series(name, CounterSeriesView.unit(name), points.stream()
                            .map(p -> new CounterSeriesView.Point(p.at(), p.min(), p.avg(), p.max())).toList())));
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot read the counters of " + target.key() + ": " + e.getMessage(), e);
        }
        return new CounterSeriesView(target.kind().prefix, target.id(), range.from(), range.to(), range.step().toString(),
                range.resolution().label(), series, unavailable);
    }
}
