package io.hypervise.server.ui;

/**
 * A lifecycle action offered on a VM: the API's action path ({@code start}, {@code shut-down}, ...),
 * its label, and the question to confirm it with (null for none).
 */
public record UiAction(String path, String label, String confirm) {
}
