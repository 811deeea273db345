# Shared helpers for the test-server scripts (es.sh, kafka.sh). Sourced, not executed.
# Everything they install lives under $HOPTRAIL_WORK (default: <repo>/.work, gitignored; /var/tmp/hoptrail-work/
# when the clone is in a directory the service user cannot enter).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Servers refuse (Elasticsearch) or should not run as root: when we are root they run as this system user.
SERVICE_USER="${HOPTRAIL_SERVICE_USER:-hoptrail}"

# True when every directory from $1 up to / lets other users in (o+x): the service user can then reach it.
others_can_enter() {
  local d="$1" mode
  while [[ "$d" != "/" ]]; do
    mode="$(stat -c %A "$d" 2>/dev/null)" || return 1
    [[ "${mode:9:1}" == [xt] ]] || return 1
    d="$(dirname "$d")"
  done
}

# A clone in a private directory (mktemp -d is 0700) is out of the service user's reach: install under
# /var/tmp instead, one folder per clone, rather than fail.
if [[ -n "${HOPTRAIL_WORK:-}" ]]; then
  WORK_DIR="$HOPTRAIL_WORK"
elif [[ $EUID -ne 0 ]] || others_can_enter "$REPO_ROOT"; then
  WORK_DIR="$REPO_ROOT/.work"
else
  WORK_DIR="/var/tmp/hoptrail-work/$(printf '%s' "$REPO_ROOT" | sha1sum | cut -c1-12)"
fi

log() { printf '[%s] %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

require() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || die "'$c' is required but not on PATH"; done
}

# JAVA_HOME for the servers: explicit override, else the JDK behind the default `java` (17 here).
java_home() {
  if [[ -n "${HOPTRAIL_JAVA_HOME:-}" ]]; then echo "$HOPTRAIL_JAVA_HOME"; return; fi
  require java
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

# Creates the non-root system user once (only when running as root).
ensure_service_user() {
  [[ $EUID -eq 0 ]] || return 0
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    log "creating system user '$SERVICE_USER'"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$SERVICE_USER" || die "could not create user '$SERVICE_USER'"
  fi
}

# Gives the service user ownership of its install and state dirs (no-op when not root).
own_dirs() {
  [[ $EUID -eq 0 ]] || return 0
  chown -R "$SERVICE_USER:$SERVICE_USER" "$@"
}

# Runs a command as the service user when root, else as ourselves. Environment is passed explicitly
# (runuser would otherwise keep root's HOME etc.).
as_service_user() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u "$SERVICE_USER" -- env "$@"
  else
    env "$@"
  fi
}

# The service user must be able to traverse every parent directory of the install.
check_traversable() {
  local d="$1"
  [[ $EUID -eq 0 ]] || return 0
  while [[ "$d" != "/" ]]; do
    runuser -u "$SERVICE_USER" -- test -x "$d" 2>/dev/null || \
      die "user '$SERVICE_USER' cannot enter $d (needs o+x); set HOPTRAIL_WORK to a reachable place"
    d="$(dirname "$d")"
  done
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

read_pid() { [[ -f "$1" ]] && tr -d '[:space:]' <"$1" || true; }

# True when something accepts TCP connections on 127.0.0.1:$1 (bash /dev/tcp, no nc needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sends SIGTERM, waits up to $2 seconds, then SIGKILL. Only ever the pid we recorded.
stop_pid() {
  local pid="$1" timeout="${2:-30}" i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  log "pid $pid did not exit within ${timeout}s after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do pid_alive "$pid" || return 0; sleep 0.1; done
  die "pid $pid survived SIGKILL"
}

# stop_service PID_FILE PID_FN: stops the server whose pid PID_FN prints, and forgets its pid file.
stop_service() {
  local pid
  pid="$("$2")"
  if [[ -z "$pid" ]]; then log "not running"; rm -f "$1"; return 0; fi
  log "stopping pid $pid"
  stop_pid "$pid" 60
  rm -f "$1"
  log "stopped"
}

# wait_service READY_FN PID_FN NAME TIMEOUT PAUSE: waits until READY_FN succeeds; fails with the log tail
# (the script's log_tail) when the process exits or TIMEOUT seconds pass.
wait_service() {
  local deadline=$((SECONDS + $4))
  until "$1"; do
    if [[ -z "$("$2")" ]]; then log_tail; die "$3 exited during start-up"; fi
    if ((SECONDS >= deadline)); then log_tail; die "$3 not ready after ${4}s"; fi
    sleep "$5"
  done
}

# status_service PID_FN READY_FN WHERE: prints the state; exit 0 running, 1 starting or unhealthy, 3 stopped.
status_service() {
  local pid
  pid="$("$1")"
  if [[ -z "$pid" ]]; then echo "stopped"; return 3; fi
  if "$2"; then echo "running pid=$pid $3"; return 0; fi
  echo "starting-or-unhealthy pid=$pid $3"; return 1
}

# Serialises install/start/stop of one service (tests may call the scripts concurrently).
with_lock() {
  local lockfile="$1"; shift
  mkdir -p "$(dirname "$lockfile")"
  exec {LOCK_FD}>"$lockfile"
  flock -w 300 "$LOCK_FD" || die "timed out waiting for $lockfile"
  "$@"
}
