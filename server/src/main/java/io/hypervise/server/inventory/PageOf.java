package io.hypervise.server.inventory;

import java.util.List;

/** A page of results, where it starts, and how many there are in all. */
public record PageOf<T>(List<T> items, int page, int size, long total) {
}
