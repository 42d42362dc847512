#!/usr/bin/env bash
# Single-file cost against the number of entries (issue 17, item 2), and peak RSS:
# a tree of BENCH_MANY (default 200,000) small YAML files, snapshotted plain and
# encrypted; then `cat` and `restore` of one file from each archive, 5 runs each
# (median). Writes bench/results/many.jsonl and prints a table.
#
#   bench/many.sh                        # 200,000 files
#   BENCH_MANY=20000 bench/many.sh       # quicker
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
W=${BENCH_DIR:-/tmp/ocpvault-bench-many}
N=${BENCH_MANY:-200000}
OUT=$here/bench/results
M="python3 $here/bench/measure.py"
B=$here/target/release/ocpvault
for t in age age-keygen python3; do
  command -v $t >/dev/null || { echo "bench: $t is missing" >&2; exit 2; }
done
(cd "$here" && cargo build --release --locked --quiet)
rm -rf "$W"; mkdir -p "$W"
age-keygen -o "$W/key.txt" 2>/dev/null; PUB=$(age-keygen -y "$W/key.txt")
echo "bench: generating $N files in $W/tree" >&2
python3 - "$W/tree/etc/origin/generated" "$N" <<'PY'
import os, random, sys
base, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(17)
for i in range(n):
    d = os.path.join(base, "node-%04d" % (i // 500))
    if i % 500 == 0:
        os.makedirs(d, exist_ok=True)
    lines = ["kind: ConfigMap", "apiVersion: v1", "metadata:", "  name: cm-%06d" % i,
             "  namespace: project-%03d" % (i % 300), "data:"]
    for k in range(rnd.randint(2, 20)):
        lines.append("  key-%02d: \"%x\"" % (k, rnd.getrandbits(64)))
    with open(os.path.join(d, "cm-%06d.yaml" % i), "w") as f:
        f.write("\n".join(lines) + "\n")
PY
F=/etc/origin/generated/node-0123/cm-061617.yaml
[ -f "$W/tree$F" ] || F=/etc/origin/generated/node-0000/cm-000007.yaml
results="$OUT/many.jsonl"; : > "$results"
run() { $M "$@" | tee -a "$results"; }
common=(--root "$W/tree" --etcd skip --projects skip --packages skip --no-default-paths --include /etc/origin -q)
run "snapshot-many" -- "$B" snapshot "${common[@]}" --output "$W/plain.ocpvault"
run "snapshot-many-age" -- "$B" snapshot "${common[@]}" -r "$PUB" --output "$W/enc.ocpvault.age"
echo "{\"label\": \"size-many\", \"bytes\": $(stat -c %s "$W/plain.ocpvault"), \"files\": $N}" >> "$results"
# cat's output goes to measure.py's stderr (discarded here); the copies are compared below.
run "cat-one-many" --repeat 5 -- "$B" cat "$W/plain.ocpvault" "$F" 2>/dev/null
run "cat-one-many-age" --repeat 5 -- "$B" cat -i "$W/key.txt" "$W/enc.ocpvault.age" "$F" 2>/dev/null
"$B" cat "$W/plain.ocpvault" "$F" > "$W/one"
"$B" cat -i "$W/key.txt" "$W/enc.ocpvault.age" "$F" > "$W/one-age"
run "restore-one-many" --repeat 5 --fresh "$W/t1" -- "$B" restore "$W/plain.ocpvault" "$F" --target "$W/t1" -q
run "restore-one-many-age" --repeat 5 --fresh "$W/t2" -- "$B" restore -i "$W/key.txt" "$W/enc.ocpvault.age" "$F" --target "$W/t2" -q
run "verify-many" -- "$B" verify "$W/plain.ocpvault" -q
cmp "$W/one" "$W/tree$F"; cmp "$W/one-age" "$W/tree$F"; cmp "$W/t1$F" "$W/tree$F"
python3 - "$results" <<'PY'
import json, sys
print("| run | wall s | peak RSS MiB | read MiB |")
print("|---|---:|---:|---:|")
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "wall_s" in r:
        print("| %s | %.3f | %.1f | %.3f |" % (r["label"], r["wall_s"], r["max_rss_kib"] / 1024, (r["rchar"] or 0) / 2**20))
    else:
        print("| %s | %d bytes | | |" % (r["label"], r["bytes"]))
PY
