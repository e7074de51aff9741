package io.hypervise.engine.host;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ProcessStatTest {

    @Test
    void cpuTimesAndStartAreCountedAfterACommandNameWithSpacesAndParentheses() {
        String line = "10833 (qemu (x) 1) S 1 10833 10833 0 -1 4194560 41000 0 0 0 1234 567 0 0 20 0 5 0 98765 "
                + "1400000000 70000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0";
        ProcessStat stat = ProcessStat.parse(line);
        assertThat(stat.userTicks()).isEqualTo(1234);
        assertThat(stat.systemTicks()).isEqualTo(567);
        assertThat(stat.cpuTicks()).isEqualTo(1801);
        assertThat(stat.startTicks()).isEqualTo(98765);
    }

    @Test
    void ourOwnProcessHasAStat() {
        assertThat(ProcessStat.ofProcess(ProcessHandle.current().pid())).isPresent();
        assertThat(ProcessStat.ofProcess(Long.MAX_VALUE)).isEmpty();
    }
}
