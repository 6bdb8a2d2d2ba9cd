#!/usr/bin/env bash
# Stops the daemons up.sh started, by the PIDs it recorded (never by name), and removes its temp dir.
#   down.sh DIR        (or with CEPH_RGW_DIR set)
# A daemon gets SIGTERM, then SIGKILL after CEPH_DOWN_GRACE seconds (default 2): the cluster is thrown
# away, so a hard kill loses nothing. CEPH_KEEP_LOGS=path copies the logs there first.
set -uo pipefail
DIR=${1:-${CEPH_RGW_DIR:-}}
[ -n "$DIR" ] && [ -f "$DIR/pids" ] || { echo "down.sh: no cluster at '${DIR}' (no pids file)" >&2; exit 2; }
case "$(basename "$DIR")" in ceph-rgw.*) ;; *) echo "down.sh: refusing $DIR (not a ceph-rgw.* dir)" >&2; exit 2 ;; esac
GRACE_TENTHS=$(( ${CEPH_DOWN_GRACE:-2} * 10 ))

# Still the daemon we started? (a PID may have been reused since)
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qE '^(/usr/bin/)?(ceph-mon|ceph-osd|radosgw) '; }

# The watchdog is done once we are here (unless it is us).
if [ -f "$DIR/watchdog.pid" ]; then
  wd=$(cat "$DIR/watchdog.pid")
  [ "$wd" != "$$" ] && [ "$wd" != "$PPID" ] && kill "$wd" 2>/dev/null
fi

mapfile -t pids < <(tac "$DIR/pids" | awk '{print $2}')   # reverse start order: gateway, OSD, monitor
for pid in "${pids[@]}"; do ours "$pid" && kill -TERM "$pid" 2>/dev/null; done
for pid in "${pids[@]}"; do
  for _ in $(seq "$GRACE_TENTHS"); do ours "$pid" || break; sleep 0.1; done
  ours "$pid" && kill -KILL "$pid" 2>/dev/null
done
for pid in "${pids[@]}"; do while ours "$pid"; do sleep 0.05; done; done   # gone, not just signalled
if [ -n "${CEPH_KEEP_LOGS:-}" ]; then mkdir -p "$CEPH_KEEP_LOGS" && cp -r "$DIR/log/." "$CEPH_KEEP_LOGS/"; fi
rm -rf -- "$DIR"
