package io.hypervise.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class LeaseStateTest {

    private static final Instant NOW = Instant.parse("2026-12-07T10:00:00Z");

    @Test
    void aLeaseThatRunsPastNowIsLive() {
        assertThat(LeaseState.of(NOW.plusMillis(1), null, NOW)).isEqualTo(LeaseState.LIVE);
    }

    @Test
    void aLeaseEndingExactlyNowIsExpiredAsTheStatementsThatCheckItSay() {
        // The transfer and the removal compare lease_expires_at > clock_timestamp(): the last instant is not live.
        assertThat(LeaseState.of(NOW, null, NOW)).isEqualTo(LeaseState.EXPIRED);
        assertThat(LeaseState.of(NOW.minusSeconds(30), null, NOW)).isEqualTo(LeaseState.EXPIRED);
    }

    @Test
    void aHostThatNeverJoinedHasAnExpiredLease() {
        assertThat(LeaseState.of(null, null, NOW)).isEqualTo(LeaseState.EXPIRED);
    }

    @Test
    void aRemovedHostHasLeftWhateverItsLeaseSays() {
        assertThat(LeaseState.of(NOW.plusSeconds(10), NOW.minusSeconds(5), NOW)).isEqualTo(LeaseState.LEFT);
        assertThat(LeaseState.of(null, NOW.minusSeconds(5), NOW)).isEqualTo(LeaseState.LEFT);
    }
}
