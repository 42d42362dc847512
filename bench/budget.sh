#!/usr/bin/env bash
# CPU budget of the snapshot throughput target on workload (b): what each piece of
# work costs in core-seconds (user + sys, /usr/bin/time), measured alone on the same
# 2 GiB db, against the wall time the 1.2x target allows on this machine's cores.
# Run after bench/run.sh (it reuses the generated workload).
#
#   bench/budget.sh            # prints a markdown table, appends it to bench/results/budget.md
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
W=${BENCH_DIR:-/tmp/ocpvault-bench}
DB=$W/b/var/lib/etcd/member/snap/db
B=$here/target/release/ocpvault
[ -f "$DB" ] || { echo "budget: run bench/run.sh first ($DB is missing)" >&2; exit 2; }
for t in zstd age openssl tar; do command -v $t >/dev/null || { echo "budget: $t is missing" >&2; exit 2; }; done
PUB=$(age-keygen -y "$W/key.txt")
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cat "$DB" > /dev/null
cores=$(nproc)

# Median of 3 runs of "wall user sys" for a shell command.
measure() {
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o "$T/t" sh -c "$1" > /dev/null 2>&1
    cat "$T/t"
  done | sort -n | sed -n 2p
}
row() { # label, "wall user sys"
  set -- "$1" $2
  printf '| %s | %.2f | %.2f | %.2f |\n' "$1" "$2" "$(echo "$3 + $4" | bc)" "$(echo "($3 + $4) / $cores" | bc -l)"
}

zstd -q -3 -T0 -c "$DB" > "$T/db.zst"
pipe=$(measure "tar -C '$W/b' -cf - var | zstd -q -3 -T0 | age -r $PUB > '$T/x'")
zst=$(measure "zstd -q -3 -T0 -c '$DB' > '$T/y'")
sha=$(measure "openssl dgst -sha256 '$DB'")
enc=$(measure "age -r $PUB -o '$T/z' '$T/db.zst'")
common=(--root "$W/b" --etcd skip --projects skip --packages skip --level 3 -q --no-default-paths --include /var/lib/etcd)
plain=$(measure "rm -f '$T'/p*.ocpvault; '$B' snapshot ${common[*]} --output '$T/p.ocpvault'")
aged=$(measure "rm -f '$T'/e*.ocpvault.age; '$B' snapshot ${common[*]} -r $PUB --output '$T/e.ocpvault.age'")

pipe_wall=$(echo "$pipe" | cut -d' ' -f1)
target=$(echo "$pipe_wall / 1.2" | bc -l)
floor=$(echo "$zst $sha $enc" | awk '{print ($2 + $3 + $5 + $6 + $8 + $9) / '"$cores"'}')
{
  echo "# CPU budget, workload (b): $(du -m "$DB" | cut -f1) MiB db, $cores cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Command: \`bench/budget.sh\`; median of 3 runs each; core-s = user + sys."
  echo
  echo "| work | wall s | core-s | core-s / $cores cores |"
  echo "|---|---:|---:|---:|"
  row 'tar \| zstd -3 -T0 \| age (the baseline)' "$pipe"
  row 'zstd -3 -T0 of the db alone' "$zst"
  row 'SHA-256 of the db alone (openssl, SHA extensions)' "$sha"
  row 'age encryption of the compressed db alone' "$enc"
  row 'ocpvault snapshot, plain' "$plain"
  row 'ocpvault snapshot, age' "$aged"
  echo
  printf 'The 1.2x target allows %.2f s of wall time. zstd + SHA-256 + age alone need %.2f s\n' "$target" "$floor"
  echo "even if they were spread perfectly over all $cores cores with no I/O at all."
} | tee -a "$here/bench/results/budget.md"
