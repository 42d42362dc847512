#!/usr/bin/env bash
# Benchmarks ocpvault against what administrators would use instead, side by side on
# the same data in one run (issue 8). Writes bench/results/latest.md and .jsonl.
#
#   bench/run.sh                       # full size: ~5,000-file master tree, 2 GiB db
#   BENCH_DB_MIB=256 BENCH_NODES=40 bench/run.sh     # a quicker, smaller run
#
# Needs: tar, zstd, age, restic (Debian packages), python3. Caches are warm: every
# input is read once before timing starts, so the figures compare CPU and I/O paths,
# not the disk.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
W=${BENCH_DIR:-/tmp/ocpvault-bench}
DB_MIB=${BENCH_DB_MIB:-2048}
NODES=${BENCH_NODES:-120}
OUT=$here/bench/results
M="python3 $here/bench/measure.py"
B=$here/target/release/ocpvault
for t in tar zstd age age-keygen restic python3; do
  command -v $t >/dev/null || { echo "bench: $t is missing (apt-get install ${t/age-keygen/age})" >&2; exit 2; }
done
(cd "$here" && cargo build --release --locked --quiet)
rm -rf "$W"; mkdir -p "$W"
age-keygen -o "$W/key.txt" 2>/dev/null; PUB=$(age-keygen -y "$W/key.txt")
export RESTIC_PASSWORD=bench

echo "bench: generating workloads in $W" >&2
# (a) a master tree scaled up: the demo tree plus NODES generated node config sets.
"$here/testdata/make-host-tree.sh" "$W/a" >/dev/null 2>&1
for i in $(seq 1 "$NODES"); do
  d="$W/a/etc/origin/generated-configs/node-$i.example.com"
  mkdir -p "$d"
  for f in "$W"/a/etc/origin/master/* "$W"/a/etc/origin/node/*.yaml "$W"/a/etc/origin/node/*.crt; do
    [ -f "$f" ] && { cat "$f"; echo "# node-$i"; } > "$d/$(basename "$f")"
  done
done
# (b) an etcd-like db: 4 KiB pages, alternating incompressible and compressible.
mkdir -p "$W/b/var/lib/etcd/member/snap"
python3 - "$W/b/var/lib/etcd/member/snap/db" "$DB_MIB" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
page = 4096
text = b''.join(b'{"key":"/kubernetes.io/pods/ns-%05d/pod","rev":%08d}\n' % (i, i) for i in range(60))
with open(path, 'wb') as f:
    for chunk in range(mib * 256 // 64):
        buf = bytearray()
        for p in range(64):
            buf += os.urandom(page) if p % 2 else (text * 2)[:page]
        f.write(buf)
PY
# (c) both, sharing the files by hard link.
mkdir -p "$W/c"; cp -al "$W/a/etc" "$W/c/etc"; cp -al "$W/b/var" "$W/c/var"
files_a=$(find "$W/a/etc" -type f | wc -l)
for w in a b c; do cat $(find "$W/$w" -type f) > /dev/null; done

results="$OUT/latest.jsonl"; : > "$results"
run() { $M "$@" | tee -a "$results" >&2; }
size_of() { du -sb "$1" | cut -f1; }
record_size() { echo "{\"label\": \"$1\", \"bytes\": $(size_of "$2")}" >> "$results"; }

for w in a b c; do
  R=$W/$w; O=$W/out-$w; mkdir -p "$O"
  case $w in
    a) inc=(); paths=(etc) ;;
    b) inc=(--no-default-paths --include /var/lib/etcd); paths=(var) ;;
    c) inc=(--include /var/lib/etcd); paths=(etc var) ;;
  esac
  echo "{\"label\": \"input-$w\", \"bytes\": $(du -sbL "$R" | cut -f1), \"files\": $(find "$R" -type f | wc -l)}" >> "$results"
  common=(--root "$R" --etcd skip --projects skip --packages skip --level 3 -q "${inc[@]}")
  run "snapshot-ocpvault-$w" -- "$B" snapshot "${common[@]}" --output "$O/plain.ocpvault"
  run "snapshot-ocpvault-age-$w" -- "$B" snapshot "${common[@]}" -r "$PUB" --output "$O/enc.ocpvault.age"
  run "snapshot-tar-zstd-$w" -- sh -c "tar -C '$R' -cf - ${paths[*]} | zstd -q -3 -T0 > '$O/x.tar.zst'"
  run "snapshot-tar-zstd-age-$w" -- sh -c "tar -C '$R' -cf - ${paths[*]} | zstd -q -3 -T0 | age -r $PUB > '$O/x.tar.zst.age'"
  restic init --quiet --repo "$O/restic" >/dev/null
  run "snapshot-restic-$w" -- restic backup --quiet --repo "$O/restic" --compression auto "${paths[@]/#/$R/}"
  record_size "size-ocpvault-$w" "$O/plain.ocpvault"
  record_size "size-ocpvault-age-$w" "$O/enc.ocpvault.age"
  record_size "size-tar-zstd-$w" "$O/x.tar.zst"
  record_size "size-tar-zstd-age-$w" "$O/x.tar.zst.age"
  record_size "size-restic-$w" "$O/restic"
done

# Restores and verify on workload (c). Single-file restores take tens of milliseconds:
# each side runs 5 times from an empty target and reports its median.
O=$W/out-c; T=$W/restore; F=etc/origin/master/master-config.yaml
rm -rf "$T"; mkdir -p "$T"
run "restore-full-ocpvault" -- "$B" restore "$O/plain.ocpvault" --target "$T/ocp" --overwrite
run "restore-full-tar" -- sh -c "mkdir -p '$T/tar' && zstd -dc '$O/x.tar.zst' | tar -C '$T/tar' -xf -"
run "restore-full-restic" -- restic restore latest --quiet --repo "$O/restic" --target "$T/restic"
run "restore-one-ocpvault" --repeat 5 --fresh "$T/one-ocp" -- "$B" restore "$O/plain.ocpvault" "/$F" --target "$T/one-ocp" --overwrite
run "restore-one-ocpvault-age" --repeat 5 --fresh "$T/one-ocp-age" -- "$B" restore -i "$W/key.txt" "$O/enc.ocpvault.age" "/$F" --target "$T/one-ocp-age" --overwrite
run "restore-one-tar" --repeat 5 --fresh "$T/one-tar" -- sh -c "mkdir -p '$T/one-tar' && zstd -dc '$O/x.tar.zst' | tar -C '$T/one-tar' -xf - '$F'"
run "restore-one-tar-age" --repeat 5 --fresh "$T/one-tar-age" -- sh -c "mkdir -p '$T/one-tar-age' && age -d -i '$W/key.txt' '$O/x.tar.zst.age' | zstd -dc | tar -C '$T/one-tar-age' -xf - '$F'"
run "restore-one-restic" --repeat 5 --fresh "$T/one-restic" -- restic restore latest --quiet --repo "$O/restic" --target "$T/one-restic" --include "$W/c/$F"
run "verify-ocpvault" -- "$B" verify "$O/plain.ocpvault" -q
run "verify-zstd-sha256sum" -- sh -c "zstd -dc '$O/x.tar.zst' | sha256sum > /dev/null"
cmp "$T/one-ocp/$F" "$W/c/$F"

python3 "$here/bench/report.py" "$results" "$OUT/latest.md" "$DB_MIB" "$files_a"
echo "bench: wrote $OUT/latest.md" >&2
