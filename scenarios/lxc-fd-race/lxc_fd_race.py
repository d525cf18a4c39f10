#!/usr/bin/env python3
"""lxc-fd-race, variant python3-lxc: the go-lxc #66 race through Debian's Python binding.

Threads churn os.pipe() (a rolling pool each) beside a few long-lived pipes while Container.start()
daemonizes a busybox system container. Python's pipes are O_CLOEXEC and non-inheritable, but liblxc
forks without exec, so only liblxc closing inherited fds in its forked child protects them: the
observation decides. After each start the pipe inodes held by every process the start forked are
intersected with the inodes this program created, and the symptom is tested: close a write end and
wait, bounded, for EOF. A sampler process (forked before any test pipe exists) watches the forked
processes while start() runs: the binding calls liblxc's start without releasing the GIL, so a
sampler thread would barely run then (the churning threads only manage ~100-200 pipes per start).
"""

import argparse
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

PINNED, CHURN, DURING_START = 1, 2, 3
PR_SET_CHILD_SUBREAPER = 36
SETUP_EVIDENCE = "/run/reprolab-lxc-setup.json"


def ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return int(s[s.rindex(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def descendants(root, exclude=()):
    """Processes forked by root, directly or not (we are a subreaper: the monitor stays in our tree)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == root or pid in exclude:
            continue
        p = pid
        for _ in range(64):
            pp = ppid_of(p)
            if pp == root:
                out.append(pid)
                break
            if pp <= 1:
                break
            p = pp
    return out


def pipe_inodes(pid):
    out = []
    d = f"/proc/{pid}/fd"
    try:
        names = os.listdir(d)
    except OSError:
        return out
    for n in names:
        try:
            link = os.readlink(f"{d}/{n}")
        except OSError:
            continue
        if link.startswith("pipe:["):
            out.append(int(link[6:-1]))
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:60]
    except OSError:
        return ""


def start_sampler(parent):
    """Fork a sampler before the attempt's pipes exist; returns (pid, control write fd, result read fd)."""
    ctl_r, ctl_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ctl_w)
            os.close(res_r)
            me = os.getpid()
            seen = {}
            while not select.select([ctl_r], [], [], 0)[0]:
                for p in descendants(parent, exclude=(me,)):
                    s = seen.setdefault(p, {"ppid": ppid_of(p), "cmd": cmdline(p), "inodes": set(), "samples": 0})
                    s["samples"] += 1
                    s["inodes"].update(pipe_inodes(p))
            data = json.dumps({p: dict(s, inodes=sorted(s["inodes"])) for p, s in seen.items()}).encode()
            with os.fdopen(res_w, "wb") as f:
                f.write(data)
        finally:
            os._exit(0)
    os.close(ctl_r)
    os.close(res_w)
    return pid, ctl_w, res_r


def stop_sampler(pid, ctl_w, res_r):
    os.write(ctl_w, b"x")
    os.close(ctl_w)
    chunks = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not select.select([res_r], [], [], 1)[0]:
            continue
        b = os.read(res_r, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(res_r)
    os.waitpid(pid, 0)
    try:
        return {int(k): v for k, v in json.loads(b"".join(chunks) or b"{}").items()}
    except ValueError:
        return {}


class Churner(threading.Thread):
    def __init__(self, state, pool_size):
        super().__init__(daemon=True)
        self.state, self.pool_size = state, pool_size
        self.pool, self.head, self.created = [], 0, {}
        self.count = 0

    def run(self):
        while self.state["phase"] < 2:
            r, w = os.pipe()
            ino = os.fstat(r).st_ino
            self.created[ino] = DURING_START if self.state["phase"] == 1 else CHURN
            self.count += 1
            if len(self.pool) < self.pool_size:
                self.pool.append((r, w, ino))
            else:
                old = self.pool[self.head]
                os.close(old[0])
                os.close(old[1])
                self.pool[self.head] = (r, w, ino)
                self.head = (self.head + 1) % self.pool_size


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def versions():
    v = {"python": sys.version.split()[0]}
    try:
        v["kernel"] = open("/proc/sys/kernel/osrelease").read().strip()
        v["debian"] = open("/etc/debian_version").read().strip()
    except OSError:
        pass
    try:
        v["python3-lxc"] = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "python3-lxc"],
                                          capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return v


def run(args, res):
    import lxc  # imported here so a missing binding becomes an error verdict

    res["versions"]["liblxc"] = getattr(lxc, "version", None) or lxc._lxc.get_version()
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    setup = os.path.join(os.path.dirname(os.path.abspath(__file__)), "setup-lxc.sh")
    p = subprocess.run([setup, args.name], capture_output=True, text=True, timeout=60)
    msg = (p.stdout + p.stderr).strip()
    print("setup:", msg, flush=True)
    # What setup observed (AppArmor, cgroup layout, v2 delegation) and set (default.conf).
    try:
        with open(SETUP_EVIDENCE) as f:
            res["evidence"]["setup"] = json.load(f)
    except (OSError, ValueError):
        pass
    if p.returncode == 2:
        res["outcome"] = "skipped"
        res["evidence"]["reason"] = msg.replace("SKIP: ", "")
        return
    if p.returncode != 0:
        res["evidence"]["reason"] = "setup failed: " + msg
        return
    if "layout=" in msg:
        res["versions"]["cgroup"] = msg.rsplit("layout=", 1)[1].split()[0]

    c = lxc.Container(args.name)
    # The LSM settings as liblxc itself parsed them from the container's config.
    lsm = {}
    for key in ("lxc.apparmor.profile", "lxc.apparmor.allow_incomplete", "lxc.apparmor.allow_nesting"):
        try:
            item = c.get_config_item(key)
        except (KeyError, ValueError) as e:
            item = f"unreadable: {e}"
        lsm[key] = ",".join(item) if isinstance(item, list) else str(item)
    res["evidence"]["lsm"] = lsm
    log_file = f"/tmp/lxc-{args.name}.log"
    c.set_config_item("lxc.log.file", log_file)
    c.set_config_item("lxc.log.level", "WARN")
    print(f"python3-lxc: liblxc {res['versions']['liblxc']}, Python {sys.version.split()[0]}; "
          f"{args.threads} threads x {args.pool} pipes churn while start() daemonizes {args.name!r}", flush=True)

    me = os.getpid()
    ev = res["evidence"]
    begin = time.monotonic()
    detections = hangs = eofs = start_failures = 0
    churn_total = during_total = 0
    start_ms, first, last = [], None, None
    transient_max, transient_procs, transient_holder = 0, 0, ""
    attempt = 0
    for attempt in range(1, args.attempts + 1):
        sampler = start_sampler(me)
        state = {"phase": 0}
        pinned = []
        for _ in range(4):
            r, w = os.pipe()
            pinned.append((r, w, os.fstat(r).st_ino))
        churners = [Churner(state, args.pool) for _ in range(args.threads)]
        for t in churners:
            t.start()
        time.sleep(0.02)
        before = sum(t.count for t in churners)
        state["phase"] = 1
        t0 = time.monotonic()
        ok = c.start()
        elapsed = (time.monotonic() - t0) * 1000
        during = sum(t.count for t in churners) - before
        state["phase"] = 2
        for t in churners:
            t.join()
        samples = stop_sampler(*sampler)
        start_ms.append(elapsed)
        churn_total += sum(t.count for t in churners)
        during_total += during

        created, held = {}, {}
        for r, w, ino in pinned:
            created[ino] = PINNED
            held[ino] = (r, w)
        for t in churners:
            created.update(t.created)
            for r, w, ino in t.pool:
                held[ino] = (r, w)

        init_pid = monitor_pid = -1
        if not ok:
            start_failures += 1
            try:
                tail = " | ".join(open(log_file).read().strip().splitlines()[-3:])
            except OSError:
                tail = ""
            print(f"attempt {attempt}: start() failed; log: {tail}", flush=True)
            ev["start_error"] = tail
        else:
            init_pid = c.init_pid
            monitor_pid = ppid_of(init_pid)

        for pid, s in samples.items():
            n = sum(1 for i in s["inodes"] if i in created)
            if n:
                transient_procs += 1
            if n > transient_max:
                transient_max = n
                role = "monitor (before it closed inherited fds)" if pid == monitor_pid else \
                    "init" if pid == init_pid else "intermediate"
                transient_holder = f"{role}, pid {pid}, ppid {s['ppid']}, {s['cmd']!r}, {s['samples']} samples"

        procs = descendants(me)
        leaked = leaked_pinned = leaked_during = leaked_held = 0
        examples, holders, held_leak = [], {}, None
        for pid in procs:
            role = "monitor" if pid == monitor_pid else "init" if pid == init_pid else \
                "child of init" if init_pid > 0 and ppid_of(pid) == init_pid else "other descendant"
            for ino in pipe_inodes(pid):
                k = created.get(ino)
                if not k:
                    continue
                leaked += 1
                holders[role] = holders.get(role, 0) + 1
                leaked_pinned += k == PINNED
                leaked_during += k == DURING_START
                if ino in held:
                    leaked_held += 1
                    held_leak = held_leak or held[ino]
                if len(examples) < 4:
                    examples.append(ino)

        # The symptom: close a write end we hold and wait, bounded, for EOF.
        r, w = held_leak or pinned[0][:2]
        os.close(w)
        t1 = time.monotonic()
        readable = select.select([r], [], [], args.eof_wait_ms / 1000)[0]
        eof = bool(readable) and os.read(r, 1) == b""
        waited = (time.monotonic() - t1) * 1000
        if eof:
            eofs += 1
        else:
            hangs += 1
        print(f"attempt {attempt}: start() {elapsed:.0f} ms ({during} pipes created during it), monitor {monitor_pid} "
              f"init {init_pid}; {len(procs)} forked processes hold {leaked} of our pipe fds ({leaked_pinned} pinned, "
              f"{leaked_during} created during start, {leaked_held} still held by us); transient: "
              f"{len(samples)} processes sampled, up to {transient_max} of our pipes; EOF after closing write end: "
              f"{'yes' if eof else 'NO, reader would hang'} ({waited:.0f} ms)", flush=True)
        this = {"forked_processes": len(procs), "intersecting_fds": leaked, "intersecting_pinned": leaked_pinned,
                "intersecting_created_during_start": leaked_during, "intersecting_still_held": leaked_held,
                "example_inodes": examples, "holders": holders, "eof": eof, "eof_wait_ms": round(waited)}
        last = this
        if leaked:
            if not detections:
                first = this
                ev["time_to_detect_ms"] = round((time.monotonic() - begin) * 1000)
                print(f"Found the following intersecting inodes: {examples}\n"
                      f"*** inode race detected after {attempt} attempts", flush=True)
            detections += 1

        if ok:
            c.stop()
            c.wait("STOPPED", 10)
        for _ in range(50):
            reap()
            if not descendants(me):
                break
            time.sleep(0.01)
        for rr, ww in held.values():
            for fd in (rr, ww):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if detections and not args.all:
            break

    res["attempts"] = attempt
    if first:
        ev["first_detection"] = first
    elif last:
        ev["last_attempt"] = last
    start_ms.sort()
    ev.update({
        "detections": detections, "eof_hangs": hangs, "eofs": eofs, "eof_wait_limit_ms": args.eof_wait_ms,
        "start_failures": start_failures, "pipes_churned": churn_total,
        "pipes_created_during_start": during_total,
        "median_start_ms": round(start_ms[len(start_ms) // 2], 1) if start_ms else None,
        "transient_max_parent_pipes_in_forked_child": transient_max,
        "transient_processes_with_parent_pipes": transient_procs,
    })
    if transient_holder:
        ev["transient_holder"] = transient_holder
    if detections:
        res["outcome"] = "reproduced"
    elif start_failures == attempt:
        res["outcome"] = "error"
        ev["reason"] = "the container never started"
    else:
        res["outcome"] = "not-reproduced"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--all", action="store_true", help="run every attempt even after a detection (rates)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pool", type=int, default=256)
    ap.add_argument("--eof-wait-ms", type=int, default=300)
    ap.add_argument("--name", default="fdrace")
    res = {"outcome": "error", "attempts": 0, "evidence": {}, "versions": versions()}
    try:
        args = ap.parse_args()
        run(args, res)
    except SystemExit as e:
        res["evidence"]["reason"] = f"bad arguments (exit {e.code})"
    except BaseException as e:  # the verdict line must come out whatever happened
        res["outcome"] = "error"
        res["evidence"]["reason"] = f"{type(e).__name__}: {e}"[:300]
    sys.stdout.flush()
    print("REPROLAB-RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
