# shellcheck shell=bash
# Keycloak for Hypervise: fetched once from Maven Central through the Maven wrapper, cached under
# ~/.cache/hypervise, started in development mode with the `hypervise` realm (keycloak/) imported,
# keeping its data in a PostgreSQL of its own (bin/lib/postgres.sh) under DATA_DIR/keycloak/postgres,
# or in the operator's PostgreSQL named by HYPERVISE_KEYCLOAK_DB_URL.
# Sourced by bin/hypervise, which provides ROOT, say and die, sets JAVA_HOME to a JDK >= 21 and
# sources bin/lib/postgres.sh.
#
# The server's tests start their own Keycloak from the same install
# (server/src/test/java/io/hypervise/server/testing/KeycloakTestResource.java); keep the two command lines
# alike: every build-time option (KEYCLOAK_BUILD_OPTIONS) must be the same there, here and in the
# prepare step, or each start rebuilds the install (slowly, and concurrent rebuilds corrupt it).

HYPERVISE_KEYCLOAK_VERSION=26.7.3
KEYCLOAK_BUILD_OPTIONS=(--db=postgres)
# The database and role of the PostgreSQL that bin/hypervise runs for Keycloak.
KEYCLOAK_DB_NAME=keycloak
KEYCLOAK_DB_ROLE=keycloak
# Where Keycloak listens, and the address in its issuer and sign-in pages: 127.0.0.1, unless bin/hypervise up
# --address sets it to the address that other hosts' servers and their users reach (a cluster's first host).
KEYCLOAK_HOST="${KEYCLOAK_HOST:-127.0.0.1}"

keycloak_install() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/hypervise"
  # -postgres: an install prepared for another database (Keycloak's H2 store, before) would be
  # rebuilt by every start; it is left where it is for checkouts that still use it.
  local home="$cache/keycloak-$HYPERVISE_KEYCLOAK_VERSION-postgres"
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
  # mode with our build options (about 20 s). Do that now, once, so later starts are quick and never
  # rebuild concurrently. exit_before_bootstrap is Keycloak's own launch mode for "build, start,
  # stop"; the start connects to the database, so a PostgreSQL is started for it and then removed.
  say "preparing Keycloak's development mode (once, about 40 s)"
  if ! keycloak_prepare "$work/keycloak-$HYPERVISE_KEYCLOAK_VERSION" "$work/prepare" >"$work/prepare.log" 2>&1 </dev/null; then
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
  if [[ -d "$cache/keycloak-$HYPERVISE_KEYCLOAK_VERSION" ]]; then
    say "note: $cache/keycloak-$HYPERVISE_KEYCLOAK_VERSION (Keycloak prepared for its H2 store) is no longer used by this checkout; remove it once no older checkout needs it"
  fi
}

# keycloak_prepare KEYCLOAK_DIR SCRATCH: builds KEYCLOAK_DIR for development mode with
# KEYCLOAK_BUILD_OPTIONS, against a throwaway PostgreSQL. Output goes to the caller's log; a failure
# returns non-zero (the throwaway cluster is stopped and removed either way).
keycloak_prepare() (
  kc="$1" scratch="$2" status=0 # a subshell: nothing leaks, and its EXIT trap is its own
  # Under /tmp, not in SCRATCH: PostgreSQL's account must reach it, and ~ may be closed to it.
  pg="$(mktemp -d /tmp/hv-keycloak-prepare.XXXXXX)"
  trap 'postgres_stop "$pg"; rm -rf "$pg"' EXIT
  port="$(keycloak_free_port)"
  postgres_start "$pg" "$port" "$KEYCLOAK_DB_NAME" "$KEYCLOAK_DB_ROLE"
  KC_DB_PASSWORD="$(postgres_credential "$pg" role-password)" "$kc/bin/kc.sh" start-dev \
    -Dkc.launch.mode=exit_before_bootstrap "${KEYCLOAK_BUILD_OPTIONS[@]}" \
    --http-host=127.0.0.1 --http-port=0 \
    "--db-url=jdbc:postgresql://127.0.0.1:$port/$KEYCLOAK_DB_NAME" "--db-username=$KEYCLOAK_DB_ROLE" \
    "-Dquarkus.transaction-manager.object-store.directory=$scratch/transaction-logs" \
    "-Dkc.io.tmpdir=$scratch/tmp" || status=$?
  return "$status"
)

# keycloak_free_port: prints a port of 127.0.0.1 that nothing listens on now.
keycloak_free_port() {
  local port i
  for ((i = 0; i < 50; i++)); do
    port=$((20000 + RANDOM % 30000))
    keycloak_http_status "$port" / >/dev/null || { printf '%s\n' "$port"; return 0; }
  done
  die "cannot find a free port on 127.0.0.1"
}

# keycloak_start PORT DATA_DIR DB_PORT: starts Keycloak on http://$KEYCLOAK_HOST:PORT with the hypervise
# realm, keeping its log and pid under DATA_DIR and its data in PostgreSQL: the one of DATA_DIR/postgres
# on 127.0.0.1:DB_PORT, started first, or the operator's own when HYPERVISE_KEYCLOAK_DB_URL is set
# (with HYPERVISE_KEYCLOAK_DB_USERNAME and HYPERVISE_KEYCLOAK_DB_PASSWORD). Waits until the realm
# answers. A Keycloak (and PostgreSQL) of this DATA_DIR already running on these ports is reused.
keycloak_start() {
  local port="${1:?keycloak_start PORT DATA_DIR DB_PORT}" dir="${2:?keycloak_start PORT DATA_DIR DB_PORT}"
  local db_port="${3:?keycloak_start PORT DATA_DIR DB_PORT}" pid db_url db_username db_password
  [[ "$port" =~ ^[0-9]+$ ]] || die "keycloak_start: '$port' is not a port number"
  [[ -n "${HYPERVISE_KEYCLOAK_HOME:-}" ]] || keycloak_install
  mkdir -p "$dir/import"
  dir="$(cd "$dir" && pwd)"

  if [[ -n "${HYPERVISE_KEYCLOAK_DB_URL:-}" ]]; then
    db_url="$HYPERVISE_KEYCLOAK_DB_URL"
    db_username="${HYPERVISE_KEYCLOAK_DB_USERNAME:?HYPERVISE_KEYCLOAK_DB_URL is set: set HYPERVISE_KEYCLOAK_DB_USERNAME too}"
    db_password="${HYPERVISE_KEYCLOAK_DB_PASSWORD:-}"
    say "Keycloak keeps its data in $db_url"
  else
    postgres_start "$dir/postgres" "$db_port" "$KEYCLOAK_DB_NAME" "$KEYCLOAK_DB_ROLE"
    db_url="jdbc:postgresql://127.0.0.1:$db_port/$KEYCLOAK_DB_NAME"
    db_username="$KEYCLOAK_DB_ROLE"
    db_password="$(postgres_credential "$dir/postgres" role-password)"
  fi
  if [[ -d "$dir/h2" ]]; then
    say "note: $dir/h2 is Keycloak's former H2 store, no longer used (its data is not carried over: the realm is imported afresh); remove it when done with it"
  fi

  if pid="$(keycloak_pid "$dir")"; then
    if tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -xF -- "--http-port=$port" >/dev/null; then
      say "Keycloak is already running (pid $pid) on http://$KEYCLOAK_HOST:$port"
      keycloak_await "$port" "$dir" "$pid"
      return 0
    fi
    die "a Keycloak of $dir is already running (pid $pid) on another port; stop it first (bin/hypervise down)"
  fi
  if keycloak_http_status "$port" / >/dev/null; then
    die "port $port is taken by another program; choose another with HYPERVISE_KEYCLOAK_PORT"
  fi

  cp "$ROOT/keycloak/hypervise-realm.json" "$dir/import/hypervise-realm.json"
  # A pid file left by a Keycloak that did not stop cleanly (a machine restart) would be read below as
  # the new one's, found dead, and reported as a failed start.
  rm -f "$dir/keycloak.pid"
  say "starting Keycloak on http://$KEYCLOAK_HOST:$port (log: $dir/keycloak.log; master realm admin: admin/admin)"
  # setsid: Keycloak gets a process group of its own (so keycloak_stop reaches kc.sh and its JVM,
  # and Ctrl-C on the server does not); the pid is written by the process itself, which then
  # becomes kc.sh. -Dkeycloak.migration.dir is where --import-realm points Keycloak internally;
  # setting it ourselves imports from DATA_DIR instead of from the shared install. A realm that
  # already exists is left as it is (IGNORE_EXISTING), so restarts keep what users changed.
  # The database password goes through the environment, out of sight of ps.
  # shellcheck disable=SC2016 # $$, $0 and $@ are for the inner sh
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin KC_DB_PASSWORD="$db_password" \
    setsid sh -c 'echo $$ >"$0"; exec "$@"' "$dir/keycloak.pid" \
    "$HYPERVISE_KEYCLOAK_HOME/bin/kc.sh" start-dev "${KEYCLOAK_BUILD_OPTIONS[@]}" \
    "--http-host=$KEYCLOAK_HOST" "--http-port=$port" "--hostname=http://$KEYCLOAK_HOST:$port" \
    "--db-url=$db_url" "--db-username=$db_username" \
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
      die "Keycloak did not answer on http://$KEYCLOAK_HOST:$port$path within ${timeout}s (log above, full log: $dir/keycloak.log)"
    fi
    sleep 1
  done
  say "Keycloak is ready after $((SECONDS - start)) s: realm http://$KEYCLOAK_HOST:$port/realms/hypervise"
}

# keycloak_stop DATA_DIR: stops the Keycloak of DATA_DIR, if one runs, and waits until it is gone;
# then its PostgreSQL.
keycloak_stop() {
  local dir="${1:?keycloak_stop DATA_DIR}" pid i
  [[ -d "$dir" ]] || { say "no Keycloak of $dir is running"; return 0; }
  dir="$(cd "$dir" && pwd)"
  if ! pid="$(keycloak_pid "$dir")"; then
    rm -f "$dir/keycloak.pid"
    say "no Keycloak of $dir is running"
    postgres_stop "$dir/postgres"
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
  postgres_stop "$dir/postgres"
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

# keycloak_http_status PORT PATH: prints the HTTP status of GET http://$KEYCLOAK_HOST:PORT/PATH; fails
# when nothing listens. Plain bash, so no curl is needed.
keycloak_http_status() {
  local port="$1" path="$2" line=""
  { exec 3<>"/dev/tcp/$KEYCLOAK_HOST/$port"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$path" "$KEYCLOAK_HOST" "$port" >&3
  IFS=' ' read -r -t 5 _ line _ <&3 || true
  exec 3<&- 3>&-
  printf '%s\n' "${line:-000}"
}
