#!/usr/bin/env python3
"""Turns bench/results/latest.jsonl into the markdown table and the target checks."""
import json, platform, sys, datetime, os

src, dst, db_mib, files_a = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = [json.loads(l) for l in open(src) if l.strip()]
by = {r["label"]: r for r in rows}
mib = 1024 * 1024

def thr(label, w):
    b = by.get(f"input-{w}", {}).get("bytes")
    t = by.get(label, {}).get("wall_s")
    return b / mib / t if b and t else None

out = []
out.append(f"# Benchmark results\n")
out.append(f"Run {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
           f"{os.cpu_count()} CPUs; `bench/run.sh` with BENCH_DB_MIB={db_mib} "
           f"(workload a: {files_a} files). Warm page cache.\n")
out.append("| run | wall s | MiB/s in | peak RSS MiB | read MiB | output MiB |")
out.append("|---|---:|---:|---:|---:|---:|")
for r in rows:
    if "wall_s" not in r:
        continue
    label = r["label"]
    w = label.rsplit("-", 1)[-1] if label.startswith("snapshot") else "c"
    t = thr(label, w)
    size_label = label.replace("snapshot-", "size-")
    size = by.get(size_label, {}).get("bytes")
    out.append(f"| {label} | {r['wall_s']:.3f} | {t:.1f} | {r['max_rss_kib']/1024:.1f} | "
               f"{(r['rchar'] or 0)/mib:.2f} | {size/mib if size else 0:.1f} |")

def ratio(a, b):
    x, y = by.get(a, {}).get("wall_s"), by.get(b, {}).get("wall_s")
    return y / x if x and y else None

out.append("\n## Targets (ratios measured in this run)\n")
checks = []
for w in "abc":
    r = ratio(f"snapshot-ocpvault-age-{w}", f"snapshot-tar-zstd-age-{w}")
    checks.append((f"snapshot throughput vs tar \\| zstd -3 -T0 \\| age, workload {w} (target >= 1.2x)", r, r is not None and r >= 1.2))
for enc in ["", "-age"]:
    r = ratio(f"restore-one-ocpvault{enc}", f"restore-one-tar{enc}")
    checks.append((f"single-file restore{' encrypted' if enc else ''} vs tar (target >= 50x)", r, r is not None and r >= 50))
    rd = by.get(f"restore-one-ocpvault{enc}", {}).get("rchar") or 0
    checks.append((f"single-file restore{' encrypted' if enc else ''} bytes read, MiB (target < 1)", rd / mib, rd < mib))
rss = max(r["max_rss_kib"] for r in rows if "wall_s" in r and "ocpvault" in r["label"])
checks.append(("peak RSS of any ocpvault run, MiB (target < 100)", rss / 1024, rss < 100 * 1024))
v = by.get("verify-ocpvault", {}).get("wall_s"); z = by.get("verify-zstd-sha256sum", {}).get("wall_s")
checks.append(("verify speed relative to zstd -d \\| sha256sum (target >= 0.8)", z / v if v and z else None, bool(v and z and z / v >= 0.8)))
# Issue 17's targets.
sz = lambda l: by.get(l, {}).get("bytes")
if sz("size-ocpvault-a") and sz("size-tar-zstd-a"):
    r = sz("size-ocpvault-a") / sz("size-tar-zstd-a")
    checks.append(("issue 17: archive size vs tar \\| zstd -3, workload a (target <= 1.5x)", r, r <= 1.5))
r = ratio("snapshot-ocpvault-age-a", "snapshot-tar-zstd-age-a")
checks.append(("issue 17: snapshot speed vs tar \\| zstd -3 -T0 \\| age, workload a (target >= 1.0x)", r, r is not None and r >= 1.0))
r = ratio("snapshot-ocpvault-age-b", "snapshot-tar-zstd-age-b")
checks.append(("issue 17: encrypted snapshot speed vs tar \\| zstd -3 -T0 \\| age, 2 GiB db (target >= 0.95x)", r, r is not None and r >= 0.95))
x, y = by.get("snapshot-ocpvault-age-b", {}).get("wall_s"), by.get("snapshot-ocpvault-b", {}).get("wall_s")
if x and y:
    checks.append(("issue 17: encrypted snapshot time over plain, 2 GiB db (target <= 1.10)", x / y, x / y <= 1.10))
r = ratio("restore-full-ocpvault", "restore-full-tar")
checks.append(("issue 17: full verified restore vs zstd -d \\| tar -x, workload c (target >= 0.8x)", r, r is not None and r >= 0.8))
for w in "abc":
    r = ratio(f"snapshot-ocpvault-{w}", f"snapshot-tar-zstd-{w}")
    checks.append((f"(not a target) plain snapshot vs tar \\| zstd -3 -T0, workload {w}", r, None))
out.append("Single-file restores (restore-one-*) report the median of 5 runs; every run's time is in latest.jsonl.\n")
out.append("| target | measured | met |")
out.append("|---|---:|:---:|")
for name, val, ok in checks:
    met = "-" if ok is None else ("yes" if ok else "NO")
    out.append(f"| {name} | {val:.2f} | {met} |" if val is not None else f"| {name} | n/a | {met} |")
notes = os.path.join(os.path.dirname(dst), "analysis.md")
if os.path.exists(notes):
    out.append("\n" + open(notes).read())
open(dst, "w").write("\n".join(out) + "\n")
print("\n".join(out))
