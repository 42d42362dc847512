#!/usr/bin/env python3
"""Runs one command and prints one JSON line: wall seconds, peak RSS (KiB) of the
process tree's largest member, bytes read (rchar, summed over the tree) and exit code.

    measure.py LABEL -- CMD ARGS...    (use `sh -c '...'` for pipelines)

Peak RSS is ru_maxrss of RUSAGE_CHILDREN: the largest resident set of any waited-for
descendant, which is what /usr/bin/time -v reports for a single process."""
import json, os, resource, sys, time

label = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.monotonic()
pid = os.fork()
if pid == 0:
    # The measured command's own output goes to stderr; stdout is this line only.
    os.dup2(2, 1)
    os.execvp(cmd[0], cmd)
# Wait without reaping, read the finished child's /proc/<pid>/io, then reap.
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
rchar = None
try:
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                rchar = int(line.split()[1])
except OSError:
    pass
_, status = os.waitpid(pid, 0)
wall = time.monotonic() - start
after = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "label": label,
    "wall_s": round(wall, 3),
    "max_rss_kib": after.ru_maxrss,
    "rchar": rchar,
    "exit": os.waitstatus_to_exitcode(status),
}))
