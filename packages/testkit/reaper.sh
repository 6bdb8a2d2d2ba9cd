#!/usr/bin/env bash
# Undoes what a test process left behind once it is gone, however it went (a runner killed mid-run,
# Ctrl-C, a crash): one per test process, started by src/reaper.ts.
#   reaper.sh OWNER_PID FILE
# FILE lists, one per line, what is still to undo (the owner rewrites it as it cleans up by itself):
#   pid PID START        SIGKILL PID, if it is still the process that started at START (/proc stat field 22)
#   vhost NAME           rabbitmqctl delete_vhost NAME
#   db NAME ADMIN_URL    DROP DATABASE NAME on the server ADMIN_URL names
set -u
OWNER=$1
FILE=$2
while kill -0 "$OWNER" 2>/dev/null; do sleep 0.5; done
[ -f "$FILE" ] || exit 0
# Processes first: they may hold connections into the vhosts and databases.
while read -r kind a b; do
  [ "$kind" = pid ] || continue
  # Field 22 counted from the first field after the command name, which may hold spaces.
  [ "$(sed 's/^.*) //' "/proc/$a/stat" 2>/dev/null | cut -d' ' -f20)" = "$b" ] && kill -KILL "$a" 2>/dev/null
done < "$FILE"
while read -r kind a b; do
  case $kind in
    vhost) rabbitmqctl --quiet delete_vhost "$a" >/dev/null 2>&1 ;;
    db) psql "$b" -qc "DROP DATABASE IF EXISTS \"$a\" WITH (FORCE)" >/dev/null 2>&1 ;;
  esac
done < "$FILE"
rm -f -- "$FILE"
