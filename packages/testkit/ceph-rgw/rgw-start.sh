#!/usr/bin/env bash
# (Re)starts the RADOS Gateway of a cluster made by up.sh and waits until S3 answers; its data lives in
# the OSD, so a gateway killed and started again serves every object it held.
#   rgw-start.sh DIR [PORT]    (PORT: the one in DIR/ceph.conf when omitted)
set -euo pipefail
DIR=$1
export CEPH_CONF=$DIR/ceph.conf
PORT=${2:-$(sed -n 's/^rgw frontends = beast endpoint=127\.0\.0\.1:\([0-9]*\)$/\1/p' "$CEPH_CONF")}
TIMEOUT=${CEPH_UP_TIMEOUT:-120}
radosgw -f -n client.rgw.darkroom </dev/null >>"$DIR/log/rgw.out" 2>&1 &
pid=$!
echo "rgw $pid" >> "$DIR/pids"
deadline=$(( $(date +%s) + TIMEOUT ))
until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { echo "rgw-start.sh: radosgw exited; see $DIR/log/rgw.log" >&2; exit 1; }
  [ "$(date +%s)" -lt "$deadline" ] || { echo "rgw-start.sh: S3 silent after ${TIMEOUT}s" >&2; exit 1; }
  sleep 0.1
done
