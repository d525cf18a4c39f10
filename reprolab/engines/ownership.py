"""Who made a container, and whether that process is still there.

A run labels its containers with its machine's hostname and boot id, its pid and the pid's start
time (pids are reused; the pair is not). `clean` asks `owner_state` before removing anything, so
it never removes the container of a run still in progress.
"""

import os
import socket
from pathlib import Path

from reprolab.common import labels

LIVE, GONE, ELSEWHERE, UNKNOWN = "live", "gone", "elsewhere", "unknown"


def boot_id(proc="/proc"):
    try:
        return Path(proc, "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_time(pid, proc="/proc"):
    """Field 22 of /proc/PID/stat (clock ticks after boot), or None when the pid does not exist."""
    try:
        stat = Path(proc, str(pid), "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def owner_labels(pid=None, proc="/proc", hostname=None):
    """The labels that name this process (or `pid`) as the owner of a container."""
    pid = os.getpid() if pid is None else pid
    return {
        labels.OWNER_HOST: hostname or socket.gethostname(),
        labels.OWNER_BOOT_ID: boot_id(proc),
        labels.OWNER_PID: str(pid),
        labels.OWNER_START: start_time(pid, proc) or "",
    }


def owner_state(container_labels, proc="/proc", hostname=None):
    """(LIVE | GONE | ELSEWHERE | UNKNOWN, why) for the process named by a container's labels."""
    host = container_labels.get(labels.OWNER_HOST)
    boot = container_labels.get(labels.OWNER_BOOT_ID)
    pid = container_labels.get(labels.OWNER_PID)
    started = container_labels.get(labels.OWNER_START)
    if not (host and boot and pid and pid.isdigit() and started):
        return UNKNOWN, "it names no owner (made by a lab older than owner labels, or by hand)"
    here = hostname or socket.gethostname()
    if host != here:
        return ELSEWHERE, f"its owner ran on {host}, whose processes this machine ({here}) cannot see"
    if boot != boot_id(proc):
        return GONE, f"its owner, pid {pid}, ran before this machine last booted"
    now = start_time(pid, proc)
    if now is None:
        return GONE, f"its owner, pid {pid}, has exited"
    if now != started:
        return GONE, f"its owner, pid {pid}, has exited (that pid is now another process)"
    return LIVE, f"its owner, pid {pid}, is still running"
