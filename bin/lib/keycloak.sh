# shellcheck shell=bash
# Keycloak for Hypervise: fetched once from Maven Central through the Maven wrapper, cached under
# ~/.cache/hypervise, started in development mode with the `hypervise` realm (keycloak/) imported.
# Sourced by bin/hypervise, which provides ROOT, say and die and sets JAVA_HOME to a JDK >= 21.
#
# The server's tests start their own Keycloak from the same install
# (server/src/test/java/io/hypervise/server/KeycloakTestResource.java); keep the two command lines
# alike: every build-time option (such as --db) must be the same, or each start rebuilds the install.

HYPERVISE_KEYCLOAK_VERSION=26.7.3

keycloak_install() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/hypervise"
  local home="$cache/keycloak-$HYPERVISE_KEYCLOAK_VERSION"
  local ready_mark="$home/.hypervise-prepared" work archive
  [[ -x "${JAVA_HOME:-}/bin/java" ]] || die "keycloak_install needs JAVA_HOME set to a JDK 21 or newer"
  if [[ -f "$ready_mark" ]]; then
    export HYPERVISE_KEYCLOAK_HOME="$home"
    say "Keycloak $HYPERVISE_KEYCLOAK_VERSION: $home"
    return 0
  fi

  # Everything happens in a scratch folder that becomes $home only when complete, so an interrupted
  # install is never mistaken for a good one and two installs at once do not trip over each other.
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/.keycloak-install.XXXXXX")"
  archive="keycloak-quarkus-dist-$HYPERVISE_KEYCLOAK_VERSION.tar.gz"
  say "fetching Keycloak $HYPERVISE_KEYCLOAK_VERSION from Maven Central (org.keycloak:keycloak-quarkus-dist, about 177 MB, once)"
  if ! "$ROOT/mvnw" -B -ntp -q -N dependency:copy \
      -Dartifact="org.keycloak:keycloak-quarkus-dist:$HYPERVISE_KEYCLOAK_VERSION:tar.gz" \
      -DoutputDirectory="$work" -Dmdep.overWriteReleases=true; then
    rm -rf "$work"
    die "could not fetch org.keycloak:keycloak-quarkus-dist:$HYPERVISE_KEYCLOAK_VERSION:tar.gz from Maven Central"
  fi
  say "unpacking Keycloak into $home"
  if ! tar --no-same-owner -xzf "$work/$archive" -C "$work"; then
    rm -rf "$work"
    die "could not unpack $archive"
  fi
  rm -f "$work/$archive"

  # The distribution is built for production mode; the first start-dev rebuilds it for development
  # mode (about 20 s). Do that now, once, so later starts are quick and never rebuild concurrently.
  # exit_before_bootstrap is Keycloak's own launch mode for "build, start, stop".
  say "preparing Keycloak's development mode (once, about 30 s)"
  if ! "$work/keycloak-$HYPERVISE_KEYCLOAK_VERSION/bin/kc.sh" start-dev \
      -Dkc.launch.mode=exit_before_bootstrap \
      --http-host=127.0.0.1 --http-port=0 \
      "--db-url=jdbc:h2:file:$work/prepare/h2/keycloakdb;NON_KEYWORDS=VALUE" \
      "-Dquarkus.transaction-manager.object-store.directory=$work/prepare/transaction-logs" \
      "-Dkc.io.tmpdir=$work/prepare/tmp" \
      >"$work/prepare.log" 2>&1 </dev/null; then
    tail -n 40 "$work/prepare.log" >&2
    rm -rf "$work"
    die "Keycloak's development mode could not be prepared (log above)"
  fi
  touch "$work/keycloak-$HYPERVISE_KEYCLOAK_VERSION/.hypervise-prepared"
  if ! mv -T "$work/keycloak-$HYPERVISE_KEYCLOAK_VERSION" "$home" 2>/dev/null && [[ ! -f "$ready_mark" ]]; then
    rm -rf "$work"
    die "could not move Keycloak into $home; remove it and try again"
  fi
  rm -rf "$work"
  export HYPERVISE_KEYCLOAK_HOME="$home"
  say "Keycloak $HYPERVISE_KEYCLOAK_VERSION installed: $home"
}

# keycloak_start PORT DATA_DIR: starts Keycloak on http://127.0.0.1:PORT with the hypervise realm,
# keeping its database, log and pid under DATA_DIR, and waits until the realm answers. A Keycloak of
# this DATA_DIR that is already running on PORT is reused.
keycloak_start() {
  local port="${1:?keycloak_start PORT DATA_DIR}" dir="${2:?keycloak_start PORT DATA_DIR}" pid
  [[ "$port" =~ ^[0-9]+$ ]] || die "keycloak_start: '$port' is not a port number"
  [[ -n "${HYPERVISE_KEYCLOAK_HOME:-}" ]] || keycloak_install
  mkdir -p "$dir/import"
  dir="$(cd "$dir" && pwd)"

  if pid="$(keycloak_pid "$dir")"; then
    if tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -xF -- "--http-port=$port" >/dev/null; then
      say "Keycloak is already running (pid $pid) on http://127.0.0.1:$port"
      keycloak_await "$port" "$dir" "$pid"
      return 0
    fi
    die "a Keycloak of $dir is already running (pid $pid) on another port; stop it first (bin/hypervise down)"
  fi
  if keycloak_http_status "$port" / >/dev/null; then
    die "port $port is taken by another program; choose another with HYPERVISE_KEYCLOAK_PORT"
  fi

  cp "$ROOT/keycloak/hypervise-realm.json" "$dir/import/hypervise-realm.json"
  say "starting Keycloak on http://127.0.0.1:$port (log: $dir/keycloak.log; master realm admin: admin/admin)"
  # setsid: Keycloak gets a process group of its own (so keycloak_stop reaches kc.sh and its JVM,
  # and Ctrl-C on the server does not); the pid is written by the process itself, which then
  # becomes kc.sh. -Dkeycloak.migration.dir is where --import-realm points Keycloak internally;
  # setting it ourselves imports from DATA_DIR instead of from the shared install. A realm that
  # already exists is left as it is (IGNORE_EXISTING), so restarts keep what users changed.
  # shellcheck disable=SC2016 # $$, $0 and $@ are for the inner sh
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
    setsid sh -c 'echo $$ >"$0"; exec "$@"' "$dir/keycloak.pid" \
    "$HYPERVISE_KEYCLOAK_HOME/bin/kc.sh" start-dev \
    --http-host=127.0.0.1 "--http-port=$port" "--hostname=http://127.0.0.1:$port" \
    "--db-url=jdbc:h2:file:$dir/h2/keycloakdb;NON_KEYWORDS=VALUE" \
    "-Dkeycloak.migration.dir=$dir/import" \
    "-Dquarkus.transaction-manager.object-store.directory=$dir/transaction-logs" \
    "-Dkc.io.tmpdir=$dir/tmp" \
    >"$dir/keycloak.log" 2>&1 </dev/null &
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    [[ -s "$dir/keycloak.pid" ]] && break
    sleep 0.1
  done
  pid="$(cat "$dir/keycloak.pid" 2>/dev/null || true)"
  [[ -n "$pid" ]] || die "Keycloak did not start; see $dir/keycloak.log"
  keycloak_await "$port" "$dir" "$pid"
}

# keycloak_await PORT DATA_DIR PID: waits until the realm's discovery document answers.
keycloak_await() {
  local port="$1" dir="$2" pid="$3" timeout="${HYPERVISE_KEYCLOAK_TIMEOUT:-120}" start=$SECONDS
  local path=/realms/hypervise/.well-known/openid-configuration
  until [[ "$(keycloak_http_status "$port" "$path")" == 200 ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$dir/keycloak.log" >&2
      die "Keycloak exited while starting (log above, full log: $dir/keycloak.log)"
    fi
    if (( SECONDS - start >= timeout )); then
      tail -n 40 "$dir/keycloak.log" >&2
      keycloak_stop "$dir"
      die "Keycloak did not answer on http://127.0.0.1:$port$path within ${timeout}s (log above, full log: $dir/keycloak.log)"
    fi
    sleep 1
  done
  say "Keycloak is ready after $((SECONDS - start)) s: realm http://127.0.0.1:$port/realms/hypervise"
}

# keycloak_stop DATA_DIR: stops the Keycloak of DATA_DIR, if one runs, and waits until it is gone.
keycloak_stop() {
  local dir="${1:?keycloak_stop DATA_DIR}" pid i
  [[ -d "$dir" ]] || { say "no Keycloak of $dir is running"; return 0; }
  dir="$(cd "$dir" && pwd)"
  if ! pid="$(keycloak_pid "$dir")"; then
    rm -f "$dir/keycloak.pid"
    say "no Keycloak of $dir is running"
    return 0
  fi
  say "stopping Keycloak (pid $pid)"
  # kc.sh forwards TERM to its JVM; signalling the group as well covers a kc.sh that is already gone.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    keycloak_alive "$pid" || break
    sleep 0.1
  done
  if keycloak_alive "$pid"; then
    say "Keycloak did not stop within 30 s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/keycloak.pid"
}

# keycloak_alive PID: whether the process runs. An exited Keycloak whose parent (the server that
# bin/hypervise up exec'd into) has not reaped it is a zombie: gone, though kill -0 still finds it.
keycloak_alive() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# keycloak_pid DATA_DIR: prints the pid from DATA_DIR/keycloak.pid if, and only if, that process is
# still the Keycloak started for DATA_DIR (a pid file alone lies once the pid has been reused).
keycloak_pid() {
  local dir="$1" pid
  pid="$(cat "$dir/keycloak.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -xF -- "-Dkeycloak.migration.dir=$dir/import" >/dev/null || return 1
  printf '%s\n' "$pid"
}

# keycloak_http_status PORT PATH: prints the HTTP status of GET http://127.0.0.1:PORT/PATH; fails
# when nothing listens. Plain bash, so no curl is needed.
keycloak_http_status() {
  local port="$1" path="$2" line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
  IFS=' ' read -r -t 5 _ line _ <&3 || true
  exec 3<&- 3>&-
  printf '%s\n' "${line:-000}"
}
