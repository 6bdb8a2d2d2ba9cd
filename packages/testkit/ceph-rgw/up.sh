#!/usr/bin/env bash
# Starts a throw-away Ceph cluster on this machine: one monitor, one OSD on memstore (RAM), no manager,
# and the RADOS Gateway serving S3 on a free loopback port. All state lives in one temp dir; nothing
# listens beyond 127.0.0.1. Ready in 3-6 s on 2 cores.
#
# Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common (--no-install-recommends), python3, curl.
#
#   eval "$(packages/testkit/ceph-rgw/up.sh)"     # exports CEPH_RGW_DIR, CEPH_CONF, S3_ENDPOINT, AWS_*
#   packages/testkit/ceph-rgw/down.sh "$CEPH_RGW_DIR"
#
# Knobs (environment):
#   CEPH_RGW_PARENT      where the temp dir goes                            (default: $TMPDIR or /tmp)
#   CEPH_RGW_OWNER_PID   a watchdog stops the cluster within a second once this process is gone, so a
#                        test runner killed mid-run leaves no daemon behind  (default: none)
#   CEPH_MEM_BYTES       memstore capacity; RAM is only used as objects are written (default 2 GiB)
#   CEPH_UP_TIMEOUT      seconds to wait for S3                              (default 120)
#   S3_ACCESS_KEY / S3_SECRET_KEY   the S3 user's key pair   (default darkroom-rgw-key / darkroom-rgw-secret)
#
# Stdout: `export NAME=value` lines (also written to $DIR/env). Progress and failures go to stderr.
# $DIR/pids lists "name pid" of every daemon; down.sh stops exactly those, never by process name.
#
# Why each non-default setting is there:
#   - auth none everywhere, and `ms mon client mode = crc secure`: radosgw asks for a secure mon session
#     by default, which auth none cannot give, and loops on "get_initial_auth_request returned -13".
#   - `paxos propose interval = 0.1`: every map change (the OSD booting, each of the ~7 pools RGW
#     creates) otherwise waits a 1 s paxos round; start-up drops from ~13 s to 3-6 s.
#   - pool size 1, 8 PGs, autoscale off, `mon allow pool size one`: a single OSD must hold every pool.
#   - no ceph-mgr: RGW does not need one (`ceph -s` reports MGR_DOWN after a while; harmless).
#   - `rgw trust forwarded https`: lets a client that sends X-Forwarded-Proto: https create topics whose
#     push endpoint carries user:password (RGW refuses credentials "over insecure transport" otherwise).
#   - `rgw enable lc threads = false`: lifecycle rules are stored and returned, never run (tests only).
set -euo pipefail

started_ns=$(date +%s%N)
say() { printf '[%5d ms] %s\n' $(( ($(date +%s%N) - started_ns) / 1000000 )) "$*" >&2; }

PARENT=${CEPH_RGW_PARENT:-${TMPDIR:-/tmp}}
MEM_BYTES=${CEPH_MEM_BYTES:-2147483648}
UP_TIMEOUT=${CEPH_UP_TIMEOUT:-120}
ACCESS_KEY=${S3_ACCESS_KEY:-darkroom-rgw-key}
SECRET_KEY=${S3_SECRET_KEY:-darkroom-rgw-secret}
OWNER=${CEPH_RGW_OWNER_PID:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=/usr/bin/python3; [ -x "$PYTHON" ] || PYTHON=python3   # a pyenv shim adds ~100 ms per call

for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool curl uuidgen; do
  command -v "$bin" >/dev/null || { echo "up.sh: $bin not found; apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common" >&2; exit 2; }
done

# n distinct free loopback ports: all sockets are held open together, so no two are the same.
free_ports() {
  "$PYTHON" -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

DIR=$(mktemp -d "$PARENT/ceph-rgw.XXXXXX")
mkdir -p "$DIR"/{log,run,mon.a,osd.0,rgw}
export CEPH_CONF=$DIR/ceph.conf
: > "$DIR/pids"

on_error() {
  say "failed at line $1"
  for f in "$DIR"/log/{mon.a,osd.0,rgw}.log; do [ -f "$f" ] && { echo "---- $f" >&2; tail -n 15 "$f" >&2; }; done
  "$HERE/down.sh" "$DIR" >&2 || true
  exit 1
}
trap 'on_error $LINENO' ERR

read -r MON_V2 MON_V1 RGW_PORT <<<"$(free_ports 3)"
FSID=$(uuidgen)

cat > "$CEPH_CONF" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
mon warn on insecure global id reclaim allowed = false
ms mon client mode = crc secure
keyring = $DIR/keyring
run dir = $DIR/run
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.1
[mon]
mon data = $DIR/mon.\$id
mon allow pool delete = true
[osd]
osd data = $DIR/osd.\$id
osd objectstore = memstore
memstore device bytes = $MEM_BYTES
osd max object name len = 460
osd max object namespace len = 64
osd op num shards = 2
osd op num threads per shard = 1
[client]
admin socket = $DIR/run/\$name.\$pid.asok
log file = $DIR/log/\$name.\$pid.log
[client.rgw.darkroom]
rgw data = $DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw thread pool size = 32
rgw enable usage log = false
rgw run sync thread = false
rgw enable lc threads = false
rgw trust forwarded https = true
log file = $DIR/log/rgw.log
admin socket = $DIR/run/rgw.asok
CONF

# The watchdog first, so even a failure half-way through start-up cannot strand a daemon.
if [ -n "$OWNER" ]; then
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -f "$2/pids" ]; do sleep 0.5; done
                  [ -f "$2/pids" ] && exec "$3/down.sh" "$2"' watchdog "$OWNER" "$DIR" "$HERE" \
    </dev/null >"$DIR/log/watchdog.log" 2>&1 &
  echo "$!" > "$DIR/watchdog.pid"
fi

ceph-authtool --create-keyring --gen-key -n mon. --cap mon 'allow *' "$DIR/keyring" >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]" "$DIR/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
ceph-mon -f -i a </dev/null >"$DIR/log/mon.a.out" 2>&1 &
echo "mon.a $!" >> "$DIR/pids"
say "monitor started"

OSD_UUID=$(uuidgen)
OSD_ID=$(ceph --connect-timeout 30 osd new "$OSD_UUID")   # returns once the monitor answers
[ "$OSD_ID" = 0 ] || { say "unexpected OSD id $OSD_ID"; false; }
ceph-osd -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd.mkfs.out" 2>&1
ceph-osd -f -i 0 </dev/null >"$DIR/log/osd.0.out" 2>&1 &
echo "osd.0 $!" >> "$DIR/pids"
say "OSD started (memstore, $MEM_BYTES bytes)"

# radosgw waits in its init for the OSD and creates its pools itself: start it at once.
"$HERE/rgw-start.sh" "$DIR" "$RGW_PORT"
ENDPOINT=http://127.0.0.1:$RGW_PORT
say "S3 answering at $ENDPOINT"

radosgw-admin user create --uid=darkroom --display-name="Darkroom tests" \
  --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >"$DIR/user.json"

# Create the bucket index, data and multipart pools now (each is a map change), not in the first test.
s3() { curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
         -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o /dev/null "$@"; }
warm=$ENDPOINT/warm-up-$$
s3 -X PUT "$warm"
upload_id=$(curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X POST "$warm/object?uploads=" |
  sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p')
s3 -X DELETE "$warm/object?uploadId=$upload_id"
s3 -X PUT --data-binary warm "$warm/object"
s3 -X DELETE "$warm/object"
s3 -X DELETE "$warm"
say "pools warmed up"

cat > "$DIR/env" <<ENV
export CEPH_RGW_DIR=$DIR
export CEPH_CONF=$CEPH_CONF
export S3_ENDPOINT=$ENDPOINT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_DEFAULT_REGION=us-east-1
ENV
trap - ERR
say "ready"
cat "$DIR/env"
