#!/usr/bin/env bash
# Benchmark for issue #16: `etcd get` of one secret from an archive whose etcd
# snapshot is a large db, against a full scan of the same db, and `etcd ls` of all
# keys. Wall time and bytes read (read/pread syscalls of the whole process, counted
# with strace; and the snapshot's stored bytes that ocpvault itself reports with
# OCPVAULT_DEBUG_IO=1).
#
#   bench/etcd_get.sh                 # 2 GiB db (about 10 minutes to fill etcd)
#   DB_MIB=256 bench/etcd_get.sh      # quicker
#
# Needs: etcd, etcdctl, strace, python3, a release build (target/release/ocpvault).
# Writes bench/results/etcd_get.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DB_MIB=${DB_MIB:-2048}
BIN=${OCPVAULT:-$PWD/target/release/ocpvault}
W=$(mktemp -d /var/tmp/ocpvault-bench-etcd.XXXXXX)
trap 'kill "$ETCD_PID" 2>/dev/null || true; rm -rf "$W"' EXIT
PORT=$((20000 + RANDOM % 10000))
etcd --name bench --data-dir "$W/etcd" --listen-client-urls "http://127.0.0.1:$PORT" \
  --advertise-client-urls "http://127.0.0.1:$PORT" --listen-peer-urls "http://127.0.0.1:$((PORT + 1))" \
  --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) --max-request-bytes 4194304 \
  >"$W/etcd.log" 2>&1 &
ETCD_PID=$!
export ETCDCTL_API=3
E=(etcdctl --endpoints "http://127.0.0.1:$PORT")
for _ in $(seq 50); do "${E[@]}" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done

# 20,000 secrets as the API server stores JSON ones, then incompressible filler
# configmaps of 1 MiB until the db reaches DB_MIB.
python3 - "$PORT" "$DB_MIB" <<'PY'
import base64, json, os, subprocess, sys
port, mib = sys.argv[1], int(sys.argv[2])
ep = ["etcdctl", "--endpoints", f"http://127.0.0.1:{port}"]
def txn(ops):
    script = "\n" + "".join(f"put {k} {v}\n" for k, v in ops) + "\n\n"
    subprocess.run(ep + ["txn"], input=script.encode(), check=True, stdout=subprocess.DEVNULL)
batch = []
for i in range(20000):
    ns = f"proj-{i % 40}"
    obj = {"kind": "Secret", "apiVersion": "v1",
           "metadata": {"name": f"s-{i:05}", "namespace": ns},
           "data": {"password": base64.b64encode(os.urandom(24)).decode()}, "type": "Opaque"}
    batch.append((f"/kubernetes.io/secrets/{ns}/s-{i:05}", json.dumps(obj, separators=(",", ":"))))
    if len(batch) == 128:
        txn(batch); batch = []
if batch:
    txn(batch)
n = 0
while True:
    st = json.loads(subprocess.run(ep + ["endpoint", "status", "-w", "json"], check=True,
                                   capture_output=True).stdout)
    if st[0]["Status"]["dbSize"] >= mib * 1024 * 1024:
        break
    for _ in range(16):
        blob = base64.b64encode(os.urandom(768 * 1024)).decode()
        subprocess.run(ep + ["put", f"/kubernetes.io/configmaps/filler/cm-{n:06}"],
                       input=blob.encode(), check=True, stdout=subprocess.DEVNULL)
        n += 1
PY

mkdir -p "$W/root/etc" "$W/out"
"$BIN" snapshot --root "$W/root" --no-default-paths --include /etc --packages skip \
  --projects skip --etcd-endpoints "http://127.0.0.1:$PORT" -q -o "$W/out" --json >"$W/snap.json"
A=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["archive"])' "$W/snap.json")
DB_BYTES=$("$BIN" ls "$A" --json | python3 -c 'import json,sys; v=json.load(sys.stdin); v=v if isinstance(v,list) else v["entries"]; print([e for e in v if e["path"]=="/.ocpvault/etcd/snapshot.db"][0]["size"])')
ARCHIVE_BYTES=$(stat -c %s "$A")
REV=$("${E[@]}" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')

# run NAME CMD...: wall seconds and bytes read by read/pread of the whole process tree.
measure() {
  local name=$1; shift
  local t0 t1
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  t0=$(date +%s.%N)
  OCPVAULT_DEBUG_IO=1 strace -f -qq -e trace=read,pread64 -e signal=none -o "$W/strace.$name" \
    "$@" >"$W/out.$name" 2>"$W/err.$name" || true
  t1=$(date +%s.%N)
  local bytes
  bytes=$(awk '{ if (match($0, /= [0-9]+$/)) s += substr($0, RSTART + 2) } END { printf "%.0f\n", s }' "$W/strace.$name")
  # Without strace, for the wall time.
  t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N)
  printf '| %s | %.3f | %s |\n' "$name" "$(echo "$t1 - $t0" | bc)" "$bytes"
}

KEY=/kubernetes.io/secrets/proj-7/s-12367
{
  echo "# etcd get from a large archived etcd db"
  echo
  echo "Command: \`DB_MIB=$DB_MIB bench/etcd_get.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d)."
  echo "db: $DB_BYTES bytes; archive: $ARCHIVE_BYTES bytes; 20,000 JSON secrets plus 768 KiB filler values."
  echo
  echo "| command | wall s (no strace) | bytes read (read+pread, strace) |"
  echo "|---|---|---|"
  measure "get (key index + framed seek)" "$BIN" etcd get "$A" "$KEY" -o raw
  measure "get (full scan: --revision $REV)" "$BIN" etcd get "$A" "$KEY" -o raw --revision "$REV"
  measure "ls (all keys, key index)" "$BIN" etcd ls "$A" --json
  echo
  echo "ocpvault's own count for the indexed get: $(grep -o 'read [0-9]* stored bytes' "$W/err.get (key index + framed seek)" || echo none)."
} | tee bench/results/etcd_get.md
