#!/usr/bin/env python3
"""Runs one command and prints one JSON line: wall seconds, peak RSS (KiB) of the
process tree's largest member, bytes read (rchar of the direct child) and exit code.

    measure.py LABEL [--repeat N] [--fresh DIR] -- CMD ARGS...
                                       (use `sh -c '...'` for pipelines)

With --repeat N the command runs N times and the line reports the median wall time
(and the largest RSS, the rchar of the median run); --fresh DIR removes DIR before
every run, outside the timing, so each run starts from the same state. Short runs
(a single-file restore takes tens of milliseconds) use this to keep one scheduler
hiccup out of a ratio.

Peak RSS is ru_maxrss of RUSAGE_CHILDREN: the largest resident set of any waited-for
descendant, which is what /usr/bin/time -v reports for a single process."""
import json, os, resource, shutil, sys, time

label = sys.argv[1]
opts = sys.argv[2:sys.argv.index("--")]
cmd = sys.argv[sys.argv.index("--") + 1:]
repeat = int(opts[opts.index("--repeat") + 1]) if "--repeat" in opts else 1
fresh = opts[opts.index("--fresh") + 1] if "--fresh" in opts else None


def once():
    if fresh:
        shutil.rmtree(fresh, ignore_errors=True)
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
    return time.monotonic() - start, rchar, os.waitstatus_to_exitcode(status)


runs = sorted(once() for _ in range(repeat))
wall, rchar, _ = runs[len(runs) // 2]
worst_exit = max((r[2] for r in runs), key=abs)
line = {
    "label": label,
    "wall_s": round(wall, 3),
    "max_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "rchar": rchar,
    "exit": worst_exit,
}
if repeat > 1:
    line["runs"] = repeat
    line["wall_s_all"] = [round(r[0], 3) for r in runs]
print(json.dumps(line))
