package io.hypervise.server.audit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AuditChainTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static AuditRecord entry(long id, String action, String params) throws Exception {
        return new AuditRecord(id, Instant.parse("2026-11-25T01:02:03.123456789Z"), "alice", List.of("hv-self-service"),
                "127.0.0.1", action, "vm:web-1", JSON.readTree(params), "allowed", "");
    }

    private static List<AuditChain.Link> chain(AuditRecord... records) {
        List<AuditChain.Link> links = new ArrayList<>();
        String previous = AuditChain.GENESIS;
        for (AuditRecord r : records) {
            String hash = AuditChain.hash(previous, r);
            links.add(new AuditChain.Link(r, previous, hash));
            previous = hash;
        }
        return links;
    }

    @Test
    void anIntactChainVerifies() throws Exception {
        assertThat(AuditChain.verify(chain(entry(1, "vm.create", "{}"), entry(2, "vm.start", "{\"a\":1}")), AuditChain.GENESIS))
                .isEmpty();
    }

    @Test
    void keyOrderAndNanosecondsDoNotChangeTheHashBecausePostgresKeepsNeither() throws Exception {
        AuditRecord written = entry(1, "vm.create", "{\"b\":{\"y\":1,\"x\":2},\"a\":[3,{\"d\":4,\"c\":5}]}");
        AuditRecord stored = new AuditRecord(1, Instant.parse("2026-11-25T01:02:03.123456Z"), "alice",
                List.of("hv-self-service"), "127.0.0.1", "vm.create", "vm:web-1",
                JSON.readTree("{\"a\":[3,{\"c\":5,\"d\":4}],\"b\":{\"x\":2,\"y\":1}}"), "allowed", "");
        assertThat(AuditChain.hash(AuditChain.GENESIS, stored)).isEqualTo(AuditChain.hash(AuditChain.GENESIS, written));
    }

    @Test
    void anAlteredEntryIsTheFirstBreak() throws Exception {
        List<AuditChain.Link> links = chain(entry(1, "vm.create", "{}"), entry(2, "vm.start", "{}"), entry(3, "vm.stop", "{}"));
        AuditChain.Link second = links.get(1);
        links.set(1, new AuditChain.Link(entry(2, "vm.delete", "{}"), second.previousHash(), second.hash()));
        assertThat(AuditChain.verify(links, AuditChain.GENESIS)).hasValueSatisfying(b -> {
            assertThat(b.entryId()).isEqualTo(2);
            assertThat(b.reason()).contains("altered");
        });
    }

    @Test
    void aRemovedEntryBreaksTheChainAtTheNextOne() throws Exception {
        List<AuditChain.Link> links = chain(entry(1, "vm.create", "{}"), entry(2, "vm.start", "{}"), entry(3, "vm.stop", "{}"));
        links.remove(1);
        assertThat(AuditChain.verify(links, AuditChain.GENESIS)).hasValueSatisfying(b -> {
            assertThat(b.entryId()).isEqualTo(3);
            assertThat(b.reason()).contains("removed");
        });
    }

    @Test
    void aSeparatorInsideAFieldCannotForgeAnotherSplit() {
        // Unescaped, both would hash the same text: SEP a SEP b SEP SEP c SEP d ...
        AuditRecord a = new AuditRecord(1, Instant.EPOCH, "a\u001fb", List.of(), "c", "d", "t", (JsonNode) null, "o", "r");
        AuditRecord b = new AuditRecord(1, Instant.EPOCH, "a", List.of("b"), "", "c\u001fd", "t", (JsonNode) null, "o", "r");
        assertThat(AuditChain.hash(AuditChain.GENESIS, a)).isNotEqualTo(AuditChain.hash(AuditChain.GENESIS, b));
    }

    @Test
    void theIdIsNotHashedSinceTheDatabaseAssignsItOnlyAfterTheHashIsComputed() throws Exception {
        assertThat(AuditChain.hash(AuditChain.GENESIS, entry(0, "vm.create", "{}")))
                .isEqualTo(AuditChain.hash(AuditChain.GENESIS, entry(41, "vm.create", "{}")));
    }

    @Test
    void twoEntriesSwappedBreakTheChainWhereTheOrderChanges() throws Exception {
        List<AuditChain.Link> links = chain(entry(1, "vm.create", "{}"), entry(2, "vm.start", "{}"), entry(3, "vm.stop", "{}"));
        AuditChain.Link second = links.get(1);
        AuditChain.Link third = links.get(2);
        // The rows keep their ids (where they are stored) but trade contents and hashes.
        links.set(1, new AuditChain.Link(withId(third.record(), 2), third.previousHash(), third.hash()));
        links.set(2, new AuditChain.Link(withId(second.record(), 3), second.previousHash(), second.hash()));
        assertThat(AuditChain.verify(links, AuditChain.GENESIS)).hasValueSatisfying(b -> assertThat(b.entryId()).isEqualTo(2));
    }

    private static AuditRecord withId(AuditRecord r, long id) {
        return new AuditRecord(id, r.at(), r.actor(), r.roles(), r.sourceAddress(), r.action(), r.target(), r.parameters(),
                r.outcome(), r.reason());
    }
}
