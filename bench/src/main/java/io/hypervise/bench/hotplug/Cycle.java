package io.hypervise.bench.hotplug;

/**
 * One disk hot-added and removed again, in seconds from the first request (or command) of each: until the
 * answer (the API's, or the last QMP command's), and until the guest printed that it saw the change.
 */
record Cycle(String disk, double addAnswered, double addSeen, double removeAnswered, double removeSeen) {
}
