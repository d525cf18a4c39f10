"""Evidence of a hung container, taken from the host's /proc before the container is killed.

For fd-inheritance hangs the useful facts are which processes exist, what each one holds open (pipe
inodes above all), where each sleeps in the kernel (wchan), and which cgroups it belongs to.
"""

import os
from pathlib import Path

MAX_PROCS = 64
MAX_FDS = 64


def _read(path, default=""):
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return default


def _children(proc):
    kids = {}
    for entry in os.listdir(proc):
        if entry.isdigit():
            stat = _read(f"{proc}/{entry}/stat")
            if stat:
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(entry))
    return kids


def snapshot(pid, proc="/proc"):
    """Process tree under `pid` with fds, wchan and cgroups; empty when /proc does not show it."""
    if not pid or not Path(f"{proc}/{pid}").exists():
        return {}
    kids = _children(proc)
    out, queue = [], [(pid, 0)]
    while queue and len(out) < MAX_PROCS:
        p, depth = queue.pop(0)
        fds = {}
        try:
            for fd in sorted(os.listdir(f"{proc}/{p}/fd"), key=int)[:MAX_FDS]:
                try:
                    fds[fd] = os.readlink(f"{proc}/{p}/fd/{fd}")
                except OSError:
                    pass
        except OSError:
            pass
        out.append({
            "pid": p,
            "depth": depth,
            "cmdline": _read(f"{proc}/{p}/cmdline").replace("\0", " ").strip()[:200],
            "state": next((ln.split(":", 1)[1].strip() for ln in _read(f"{proc}/{p}/status").splitlines()
                           if ln.startswith("State:")), ""),
            "wchan": _read(f"{proc}/{p}/wchan"),
            "fds": fds,
            "cgroup": _read(f"{proc}/{p}/cgroup").strip().splitlines()[:16],
        })
        queue.extend((c, depth + 1) for c in sorted(kids.get(p, [])))
    return {"processes": out, "truncated": bool(queue)}
