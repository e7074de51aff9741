package io.hypervise.server.placement;

import static io.hypervise.server.placement.DemandBuilder.vm;
import static io.hypervise.server.placement.HostBuilder.GIB;
import static io.hypervise.server.placement.HostBuilder.MIB;
import static io.hypervise.server.placement.HostBuilder.host;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Hosts rated for a VM case by case, as an administrator would read the "Rate hosts" dialog. */
class PlacementTest {

    private static final Goal BALANCE = Goal.BALANCE;
    private static final Goal CONSOLIDATE = Goal.CONSOLIDATE;
    private static final Weights EVEN = Weights.DEFAULT;

    /**
     * One row of the table: hosts, a VM, a goal and weights; the eligible hosts in the order expected (by
     * id), and for each refused host every reason it must give (a fragment of each, no more reasons).
     */
    static final class Case {
        final String name;
        final Goal goal;
        final Weights weights;
        final VmDemand vm;
        final List<HostFacts> hosts;
        List<String> order = List.of();
        final Map<String, List<String>> refused = new LinkedHashMap<>();
        final Map<String, List<String>> says = new LinkedHashMap<>();
        final Map<String, Double> stars = new LinkedHashMap<>();

        Case(String name, Goal goal, Weights weights, DemandBuilder vm, HostBuilder... hosts) {
            this.name = name;
            this.goal = goal;
            this.weights = weights;
            this.vm = vm.build();
            this.hosts = Arrays.stream(hosts).map(HostBuilder::build).toList();
        }

        Case order(String... hostIds) {
            order = List.of(hostIds);
            return this;
        }

        Case refused(String hostId, String... reasons) {
            refused.put(hostId, List.of(reasons));
            return this;
        }

        Case says(String hostId, String... fragments) {
            says.put(hostId, List.of(fragments));
            return this;
        }

        Case stars(String hostId, double value) {
            stars.put(hostId, value);
            return this;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private static Case when(String name, Goal goal, Weights weights, DemandBuilder vm, HostBuilder... hosts) {
        return new Case(name, goal, weights, vm, hosts);
    }

    static Stream<Case> cases() {
        return Stream.of(
                when("the only host takes the VM", BALANCE, EVEN, vm(1, 1024), host("a"))
                        .order("a").stars("a", 4.4)
                        .says("a", "4.4 stars: 88 % free after placing", "memory after placing: 88 % free (7 of 8 GiB)",
                                "CPU headroom after placing: 3 of 4 cores (recent load 0 cores"),
                when("balance prefers the host with more memory free", BALANCE, EVEN, vm(1, 1024),
                        host("a").committedMib(6144), host("b").committedMib(2048))
                        .order("b", "a"),
                when("consolidate prefers the fuller host on the same hosts", CONSOLIDATE, EVEN, vm(1, 1024),
                        host("a").committedMib(6144), host("b").committedMib(2048))
                        .order("a", "b").says("a", "consolidate favours the fullest host that still fits"),
                when("balance on three hosts: emptiest first", BALANCE, EVEN, vm(2, 2048),
                        host("a").committedMib(1024).load(0.5), host("b").committedMib(3072).load(1.5),
                        host("c").committedMib(5120).load(2.5))
                        .order("a", "b", "c"),
                when("consolidate on the same three hosts: fullest first", CONSOLIDATE, EVEN, vm(2, 2048),
                        host("a").committedMib(1024).load(0.5), host("b").committedMib(3072).load(1.5),
                        host("c").committedMib(5120).load(2.5))
                        .order("c", "b", "a"),
                when("consolidate passes over the fullest host when the VM does not fit there", CONSOLIDATE, EVEN,
                        vm(1, 1024), host("a").committedMib(7680), host("b").committedMib(6144), host("c"))
                        .order("b", "c").refused("a", "not enough memory: 512 MiB free, 1024 MiB needed"),
                when("memory exactly fitting is eligible", BALANCE, EVEN, vm(1, 1024), host("a").committedMib(7168))
                        .order("a").stars("a", 2.9).says("a", "memory after placing: 0 % free (0 of 8 GiB)"),
                when("one byte short of memory is refused", BALANCE, EVEN, vm(1, 1024),
                        host("a").committedBytes(7168 * MIB + 1), host("b"))
                        .order("b").refused("a", "not enough memory: 1023.9 MiB free, 1024 MiB needed"),
                when("more memory committed than the host has: 0 MiB free", BALANCE, EVEN, vm(1, 256),
                        host("a").committedMib(9000), host("b"))
                        .order("b").refused("a", "not enough memory: 0 MiB free, 256 MiB needed"),
                when("a host in maintenance is refused even when it is the emptiest", BALANCE, EVEN, vm(1, 1024),
                        host("a").inMaintenance(), host("b").committedMib(4096))
                        .order("b").refused("a", "in maintenance mode"),
                when("a host whose lease expired is refused", BALANCE, EVEN, vm(1, 1024),
                        host("a").leaseExpired(), host("b").committedMib(4096))
                        .order("b").refused("a", "host lease expired: the host has not renewed it and may be down"),
                when("a host group not allowed is named with the allowed ones", BALANCE, EVEN,
                        vm(1, 1024).inGroups("prod", "lab"), host("a").group("gpu"), host("b").group("lab"),
                        host("c"))
                        .order("b")
                        .refused("a", "host group 'gpu' is not allowed for this VM; allowed: lab, prod")
                        .refused("c", "host group 'default' is not allowed for this VM; allowed: lab, prod"),
                when("a missing switch is named", BALANCE, EVEN, vm(1, 1024).switches("lab"),
                        host("a").switches("lab", "dmz"), host("b").switches("dmz"))
                        .order("a").refused("b", "no virtual switch 'lab', which the VM's network adapters need"),
                when("several missing switches are named in one reason", BALANCE, EVEN, vm(1, 1024).switches("lab", "dmz"),
                        host("a"), host("b").switches("lab", "dmz"), host("c").switches("lab"))
                        .order("b")
                        .refused("a", "no virtual switches 'dmz', 'lab', which the VM's network adapters need")
                        .refused("c", "no virtual switch 'dmz'"),
                when("local storage that does not fit is refused with both amounts", BALANCE, EVEN,
                        vm(1, 1024).localDiskGib(10), host("a").storageGib(100, 3.5), host("b").storageGib(100, 50))
                        .order("b").refused("a", "not enough local storage: 3.5 GiB free, 10 GiB needed"),
                when("local storage exactly fitting is eligible", BALANCE, EVEN, vm(1, 1024).localDiskGib(10),
                        host("a").storageGib(100, 10))
                        .order("a").says("a", "local storage after placing: 0 % free (0 of 100 GiB)"),
                when("disks on shared storage need no local space, but the host must reach it", BALANCE, EVEN,
                        vm(1, 1024).onSharedStorage("san-1"), host("a").storageGib(100, 0).reaches("san-1"),
                        host("b").reaches("san-2"))
                        .order("a").refused("b", "cannot reach shared storage 'san-1' that the VM's disks are on"),
                when("a migration's source is avoided even when it rates best", BALANCE, EVEN, vm(1, 1024).avoiding("a"),
                        host("a"), host("b").committedMib(4096))
                        .order("b").refused("a", "the VM is already there (the host it moves from)"),
                when("a highly available VM restarts only on its listed hosts, never on the failed one", BALANCE, EVEN,
                        vm(1, 1024).avoiding("a").mayRunOn("b", "c"), host("a").leaseExpired(),
                        host("b").committedMib(2048), host("c"), host("d"))
                        .order("c", "b")
                        .refused("a", "host lease expired", "the VM is already there",
                                "not among the hosts this VM may run on: b, c")
                        .refused("d", "not among the hosts this VM may run on: b, c"),
                when("all hosts refused: every reason of every host", BALANCE, EVEN,
                        vm(1, 1024).switches("lab").inGroups("default").localDiskGib(2).avoiding("c"),
                        host("a").inMaintenance().committedMib(7680).switches("lab"),
                        host("b").leaseExpired().group("gpu"),
                        host("c").switches("lab").storageGib(100, 1))
                        .refused("a", "in maintenance mode", "not enough memory: 512 MiB free, 1024 MiB needed")
                        .refused("b", "host lease expired", "host group 'gpu' is not allowed for this VM; allowed: default",
                                "no virtual switch 'lab'")
                        .refused("c", "the VM is already there", "not enough local storage: 1 GiB free, 2 GiB needed"),
                when("no hosts at all: nothing to choose", BALANCE, EVEN, vm(1, 1024)),
                when("equal stars: balance puts the host with fewer VMs first", BALANCE, EVEN, vm(1, 1024),
                        host("a").vms(3), host("b").vms(1))
                        .order("b", "a"),
                when("equal stars: consolidate puts the host with more VMs first", CONSOLIDATE, EVEN, vm(1, 1024),
                        host("a").vms(3), host("b").vms(1))
                        .order("a", "b"),
                when("equal stars and VMs: by host name", BALANCE, EVEN, vm(1, 1024), host("beta"), host("alpha"))
                        .order("alpha", "beta"),
                when("equal stars, VMs and names: by host id", BALANCE, EVEN, vm(1, 1024),
                        host("twin").id("t2"), host("twin").id("t1"))
                        .order("t1", "t2"),
                when("stars equal to the tenth tie, though one host has a MiB more free", BALANCE, EVEN, vm(1, 1024),
                        host("a").committedMib(2049).vms(1), host("b").committedMib(2048).vms(2))
                        .order("a", "b").stars("a", 4.0).stars("b", 4.0),
                when("even weights: the idle host with less memory wins", BALANCE, EVEN, vm(1, 1024),
                        host("a").committedMib(5120), host("b").load(3.5))
                        .order("a", "b"),
                when("CPU weight alone: the idle host wins", BALANCE, new Weights(1, 0, 0), vm(1, 1024),
                        host("a").committedMib(5120), host("b").load(3.5))
                        .order("a", "b").says("a", "memory after placing: 25 % free (2 of 8 GiB) (weight 0: not counted)"),
                when("memory weight alone: the host with memory free wins", BALANCE, new Weights(0, 1, 0), vm(1, 1024),
                        host("a").committedMib(5120), host("b").load(3.5))
                        .order("b", "a").says("b", "CPU headroom after placing: 0 of 4 cores (recent load 3.5 cores"),
                when("storage weight alone: the host with storage free wins", BALANCE, new Weights(0, 0, 2),
                        vm(1, 1024).localDiskGib(10), host("a").storageGib(100, 20), host("b").storageGib(100, 80))
                        .order("b", "a").says("a", "local storage after placing: 10 % free (10 of 100 GiB)",
                                "weighted CPU 0, memory 0, storage 2"),
                when("unknown CPU load counts the committed vCPUs as busy and says so", BALANCE, EVEN, vm(1, 1024),
                        host("a").loadUnknown().committedVcpus(3), host("b").load(1).committedVcpus(3))
                        .order("b", "a")
                        .says("a", "CPU headroom after placing: 0 of 4 cores (CPU load unknown, no recent counters: "
                                + "its 3 vCPUs counted busy, this VM's 1 vCPU counted busy)"),
                when("a new host with unknown load and nothing on it counts as idle", BALANCE, EVEN, vm(1, 1024),
                        host("a").loadUnknown(), host("b").load(2))
                        .order("a", "b"),
                when("vCPUs beyond the host's cores do not refuse, and overcommitment is said", BALANCE, EVEN,
                        vm(8, 1024), host("a").committedVcpus(2))
                        .order("a").stars("a", 3.1)
                        .says("a", "CPU overcommitted after placing: 10 vCPUs on 4 cores (allowed; it lowers the headroom only)"),
                when("refused hosts come after eligible ones whatever their names", CONSOLIDATE, EVEN, vm(1, 1024),
                        host("a").inMaintenance(), host("z"))
                        .order("z").refused("a", "in maintenance mode").stars("z", 0.6));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void ratesHostsAsTheTableSays(Case c) {
        List<Rating> ratings = Placement.rate(c.vm, c.hosts, c.goal, c.weights);

        assertThat(ratings).extracting(Rating::hostId).as("every host is rated once")
                .containsExactlyInAnyOrderElementsOf(c.hosts.stream().map(HostFacts::id).toList());
        List<Rating> eligible = ratings.stream().filter(Rating::eligible).toList();
        assertThat(eligible).extracting(Rating::hostId).as("eligible hosts, best first").containsExactlyElementsOf(c.order);
        assertThat(ratings.subList(0, eligible.size())).as("eligible hosts come first").allMatch(Rating::eligible);
        for (int i = 1; i < eligible.size(); i++) {
            assertThat(eligible.get(i).stars()).as("stars never rise down the list").isLessThanOrEqualTo(eligible.get(i - 1).stars());
        }
        assertThat(ratings.stream().filter(r -> !r.eligible()).map(Rating::hostId))
                .as("refused hosts").containsExactlyInAnyOrderElementsOf(c.refused.keySet());
        for (Map.Entry<String, List<String>> refusal : c.refused.entrySet()) {
            Rating r = rating(ratings, refusal.getKey());
            assertThat(r.stars()).isZero();
            assertThat(r.reasons()).as("every reason %s is refused, and no other", r.hostId()).hasSameSizeAs(refusal.getValue());
            for (int i = 0; i < refusal.getValue().size(); i++) {
                assertThat(r.reasons().get(i)).contains(refusal.getValue().get(i));
            }
        }
        for (Map.Entry<String, List<String>> said : c.says.entrySet()) {
            List<String> reasons = rating(ratings, said.getKey()).reasons();
            for (String fragment : said.getValue()) {
                assertThat(reasons).as("reasons of %s", said.getKey()).anyMatch(reason -> reason.contains(fragment));
            }
        }
        c.stars.forEach((host, stars) -> assertThat(rating(ratings, host).stars()).as("stars of %s", host).isEqualTo(stars));

        Optional<Rating> chosen = Placement.choose(c.vm, c.hosts, c.goal, c.weights);
        if (c.order.isEmpty()) {
            assertThat(chosen).isEmpty();
        } else {
            assertThat(chosen).contains(ratings.get(0));
        }
    }

    @Test
    void anEligibleHostSaysWhereItsStarsComeFrom() {
        Rating r = Placement.choose(vm(1, 1024).build(), List.of(host("a").load(0.6).cpus(2).build()), BALANCE, EVEN)
                .orElseThrow();
        assertThat(r.reasons()).containsExactly(
                "3.5 stars: 69 % free after placing, weighted CPU 1, memory 1, storage 1; balance favours the host left with the most free",
                "memory after placing: 88 % free (7 of 8 GiB)",
                "CPU headroom after placing: 0.4 of 2 cores (recent load 0.6 cores, this VM's 1 vCPU counted busy)",
                "local storage after placing: 100 % free (100 of 100 GiB)");
    }

    @Test
    void weightsThatCountNothingAreRefusedNamingTheField() {
        assertThatThrownBy(() -> new Weights(0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("weights: at least one of cpu, memory and storage must be above 0; all three are 0");
        assertThatThrownBy(() -> new Weights(1, -0.5, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("weights.memory must be a number of 0 or more; was -0.5");
        assertThatThrownBy(() -> new Weights(Double.NaN, 1, 1)).hasMessage("weights.cpu must be a number of 0 or more; was NaN");
        assertThatThrownBy(() -> new Weights(1, 1, Double.POSITIVE_INFINITY))
                .hasMessageStartingWith("weights.storage must be a number of 0 or more");
        VmDemand vm = vm(1, 1024).build();
        List<HostFacts> hosts = List.of(host("a").load(1).build());
        assertThat(Placement.rate(vm, hosts, BALANCE, new Weights(2, 2, 2)).get(0).stars()).as("weights are relative")
                .isEqualTo(Placement.rate(vm, hosts, BALANCE, EVEN).get(0).stars());
    }

    @Test
    void nonsenseFactsAreRefusedNamingTheField() {
        assertThatThrownBy(() -> VmDemand.of(0, 1024)).hasMessage("vcpus must be 1 or more; was 0");
        assertThatThrownBy(() -> VmDemand.of(1, 0)).hasMessage("memoryMib must be 1 or more; was 0");
        assertThatThrownBy(() -> host("a").cpus(0).build()).hasMessage("host 'a': cpus must be 1 or more; was 0");
        assertThatThrownBy(() -> host("a").load(-1).build()).hasMessage("host 'a': cpuLoadCores must be 0 or more; was -1.0");
        assertThatThrownBy(() -> host("a").committedBytes(-1).build())
                .hasMessage("host 'a': committedMemoryBytes must be 0 or more; was -1");
    }

    /**
     * Over a few hundred random clusters: the chosen host can take the VM by rules written again here,
     * independently, its memory never overflows, and the answer does not depend on the order hosts are listed in.
     */
    @Test
    void choiceIsAlwaysAHostThatFitsAndDoesNotDependOnTheHostsOrder() {
        Random random = new Random(19);
        int chosenSomewhere = 0;
        for (int round = 0; round < 400; round++) {
            List<HostFacts> hosts = randomHosts(random, 1 + random.nextInt(40));
            VmDemand vm = randomVm(random, hosts);
            Goal goal = random.nextBoolean() ? BALANCE : CONSOLIDATE;
            Weights weights = randomWeights(random);

            Optional<Rating> chosen = Placement.choose(vm, hosts, goal, weights);
            List<Rating> ratings = Placement.rate(vm, hosts, goal, weights);
            boolean anyFits = hosts.stream().anyMatch(h -> fits(vm, h));
            String round_ = "round " + round;
            assertThat(chosen.isPresent()).as(round_ + ": a host is chosen exactly when one fits").isEqualTo(anyFits);
            for (Rating r : ratings) {
                HostFacts h = hosts.stream().filter(x -> x.id().equals(r.hostId())).findFirst().orElseThrow();
                assertThat(r.eligible()).as(round_ + ": eligibility of " + h).isEqualTo(fits(vm, h));
                assertThat(r.reasons()).isNotEmpty();
            }
            if (chosen.isEmpty()) {
                continue;
            }
            chosenSomewhere++;
            HostFacts host = hosts.stream().filter(h -> h.id().equals(chosen.get().hostId())).findFirst().orElseThrow();
            assertThat(host.committedMemoryBytes() + vm.memoryBytes()).as(round_ + ": memory after placing")
                    .isLessThanOrEqualTo(host.memoryBytes());
            assertThat(chosen.get()).as(round_ + ": choose is rate's first").isEqualTo(ratings.get(0));
            assertThat(chosen.get().stars()).isBetween(0.0, 5.0);

            List<HostFacts> shuffled = new ArrayList<>(hosts);
            Collections.shuffle(shuffled, random);
            assertThat(Placement.choose(vm, shuffled, goal, weights)).as(round_ + ": same choice, hosts listed otherwise")
                    .isEqualTo(chosen);
            assertThat(Placement.rate(vm, shuffled, goal, weights)).as(round_ + ": same ratings").isEqualTo(ratings);
            assertThat(Placement.choose(vm, hosts, goal, weights)).as(round_ + ": same choice again").isEqualTo(chosen);
        }
        assertThat(chosenSomewhere).as("the generator makes clusters where some host fits").isGreaterThan(100);
    }

    /** Timing of 1,000 hosts, printed for the bench's record: never asserted (the machine is shared). */
    @Test
    void ratingAThousandHostsIsPrinted() {
        Random random = new Random(1000);
        List<HostFacts> hosts = randomHosts(random, 1000);
        VmDemand vm = new VmDemand(2, 2048, 0, Set.of(), Set.of("lab"), Set.of(), null, Set.of());
        for (int i = 0; i < 200; i++) {
            Placement.rate(vm, hosts, BALANCE, EVEN);
            Placement.choose(vm, hosts, BALANCE, EVEN);
        }
        int runs = 200;
        long start = System.nanoTime();
        for (int i = 0; i < runs; i++) {
            Placement.rate(vm, hosts, BALANCE, EVEN);
        }
        long rate = (System.nanoTime() - start) / runs;
        start = System.nanoTime();
        for (int i = 0; i < runs; i++) {
            Placement.choose(vm, hosts, BALANCE, EVEN);
        }
        long choose = (System.nanoTime() - start) / runs;
        System.out.printf("placement of one VM over 1,000 hosts: rate %d µs, choose %d µs%n", rate / 1000, choose / 1000);
        assertThat(Placement.rate(vm, hosts, BALANCE, EVEN)).hasSize(1000);
    }

    /** The rules again, written plainly, as the property test's oracle. */
    private static boolean fits(VmDemand vm, HostFacts h) {
        return h.leaseLive() && !h.inMaintenance() && !h.id().equals(vm.avoidHost())
                && (vm.mayRunOn().isEmpty() || vm.mayRunOn().contains(h.id()))
                && (vm.allowedGroups().isEmpty() || vm.allowedGroups().contains(h.group()))
                && h.memoryBytes() - h.committedMemoryBytes() >= vm.memoryMib() * MIB
                && h.storageFreeBytes() >= vm.localDiskBytes()
                && h.sharedStorage().containsAll(vm.sharedStorage()) && h.switches().containsAll(vm.switches());
    }

    private static List<HostFacts> randomHosts(Random random, int count) {
        List<HostFacts> hosts = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int cpus = 1 + random.nextInt(16);
            long memory = (1 + random.nextInt(64)) * GIB;
            long storage = random.nextInt(500) * GIB;
            hosts.add(new HostFacts("h" + i, "host-" + random.nextInt(count), pick(random, "default", "lab", "gpu"),
                    random.nextInt(10) == 0, random.nextInt(10) != 0, cpus,
                    random.nextInt(5) == 0 ? OptionalDouble.empty() : OptionalDouble.of(random.nextDouble() * cpus * 1.2),
                    random.nextInt(20), random.nextInt(10), memory, (long) (random.nextDouble() * memory * 1.1), storage,
                    (long) (random.nextDouble() * storage), subset(random, "lab", "dmz", "prod"),
                    subset(random, "san-1", "san-2")));
        }
        return hosts;
    }

    private static VmDemand randomVm(Random random, List<HostFacts> hosts) {
        Set<String> mayRunOn = random.nextInt(5) == 0
                ? Set.copyOf(List.of(hosts.get(random.nextInt(hosts.size())).id(), hosts.get(random.nextInt(hosts.size())).id()))
                : Set.of();
        return new VmDemand(1 + random.nextInt(8), 256 + random.nextInt(16128), random.nextInt(3) == 0 ? 0
                : (long) (random.nextDouble() * 50 * GIB), random.nextInt(3) == 0 ? subset(random, "san-1", "san-2") : Set.of(),
                random.nextInt(2) == 0 ? subset(random, "lab", "dmz") : Set.of(),
                random.nextInt(3) == 0 ? subset(random, "default", "lab") : Set.of(),
                random.nextBoolean() ? hosts.get(random.nextInt(hosts.size())).id() : null, mayRunOn);
    }

    private static Weights randomWeights(Random random) {
        double cpu = random.nextInt(3) == 0 ? 0 : random.nextInt(4);
        double memory = random.nextInt(3) == 0 ? 0 : random.nextDouble() * 3;
        return new Weights(cpu, memory, cpu == 0 && memory == 0 ? 1 : random.nextInt(3));
    }

    private static String pick(Random random, String... values) {
        return values[random.nextInt(values.length)];
    }

    private static Set<String> subset(Random random, String... values) {
        return Arrays.stream(values).filter(v -> random.nextInt(3) != 0).collect(java.util.stream.Collectors.toSet());
    }

    private static Rating rating(List<Rating> ratings, String hostId) {
        return ratings.stream().filter(r -> r.hostId().equals(hostId)).findFirst().orElseThrow();
    }
}
