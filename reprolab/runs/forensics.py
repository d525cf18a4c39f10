"""Evidence of a hung container, taken from the host's /proc before the container is killed.

For fd-inheritance hangs the useful facts are which processes exist, what each one holds open (pipe
inodes above all), where each sleeps in the kernel (wchan), and which cgroups it belongs to.
A pid is read only when its cgroups name the container: the engine's pid means something only in
the engine's machine and pid namespace, and a pid may have been reused since the engine gave it.
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


def belongs(pid, container_id, proc="/proc"):
    """Whether /proc/PID/cgroup names the container (cgroupfs: /docker/ID, systemd: docker-ID.scope)."""
    return bool(container_id) and container_id in _read(f"{proc}/{pid}/cgroup")


def snapshot(pid, container_id, proc="/proc"):
    """Process tree under `pid` with fds, wchan and cgroups, reading only the container's processes;
    {"unavailable": why} when /proc does not show the container's main process."""
    if not pid:
        return {"unavailable": "the engine gave no pid for the container"}
    if not Path(f"{proc}/{pid}").exists():
        return {"unavailable": f"pid {pid} is not in this machine's /proc (another pid namespace?)"}
    if not belongs(pid, container_id, proc):
        return {"unavailable": f"pid {pid} is not in container {(container_id or '?')[:12]}'s cgroups "
                               f"(another pid namespace, or the pid was reused)"}
    kids = _children(proc)
    out, queue, foreign = [], [(pid, 0)], []
    while queue and len(out) < MAX_PROCS:
        p, depth = queue.pop(0)
        if p != pid and not belongs(p, container_id, proc):
            foreign.append(p)  # left its cgroups (or exited and the pid was reused): not read
            continue
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
    snap = {"processes": out, "truncated": bool(queue)}
    if foreign:
        snap["not_read"] = {"pids": foreign, "why": "their cgroups do not name the container"}
    return snap
