package io.hypervise.server.ui;

import io.hypervise.server.network.SwitchView;
import java.util.List;

/**
 * The host page's virtual switches: each with its adapters and the traffic of its ports now, why the
 * host cannot run switches (if it cannot), and whether the viewer may make and remove them.
 */
public record HostSwitches(String hostId, List<SwitchView> items, String unavailable, boolean mayManage) {
}
