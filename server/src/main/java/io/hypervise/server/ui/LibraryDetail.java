package io.hypervise.server.ui;

import io.hypervise.server.library.LibraryItemView;

/**
 * One library item's details (with the VMs that use it), whether the caller may delete it, and where
 * a VM's page is for them ({@code vmPages}: the admin console's or the portal's).
 */
public record LibraryDetail(LibraryItemView item, boolean mayDelete, String vmPages) {
}
