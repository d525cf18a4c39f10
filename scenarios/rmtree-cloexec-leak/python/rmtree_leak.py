"""The race of golang/go#33405 with Python's shutil.rmtree.

One thread builds trees of deep chains on a tmpfs and removes them with shutil.rmtree (on Linux
its fd-based walk: os.open(..., dir_fd=...) for every directory, held while it descends); many
threads exec `ls -al /proc/self/fd` and look for fd targets under the tree's root. Since PEP 446
(Python 3.4) every fd Python opens is non-inheritable, so no child should see them. Children are
spawned with close_fds=False so that only the fds' own close-on-exec flag protects them, as in
Go's os/exec (the default close_fds=True would hide a leak). The last stdout line is the verdict.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time

TMPFS_MAGIC = 0x01021994


def emit(outcome, attempts, evidence, versions):
    sys.stdout.flush()
    print("REPROLAB-RESULT " + json.dumps(
        {"outcome": outcome, "attempts": attempts, "evidence": evidence, "versions": versions},
        sort_keys=True))
    sys.stdout.flush()


def os_release():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def fs_type(path):
    """The type of the file system holding path, from the longest matching mount in mountinfo."""
    best, kind = "", "unknown"
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            mnt = left.split()[4]
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, right.split()[0]
    return kind


def list_fds(ls):
    r = subprocess.run([ls, "-al", "/proc/self/fd"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, close_fds=False, timeout=10)
    return r.stdout.decode("utf-8", "replace")


def leaked_targets(out, prefix):
    leaks = []
    for line in out.splitlines():
        left, sep, target = line.partition(" -> ")
        if sep and target.startswith(prefix):
            fields = left.split()
            leaks.append((fields[-1] if fields else "", target))
    return leaks


def shorten(target, prefix):
    parts = target[len(prefix):].split("/")
    if len(parts) <= 5:
        return target
    return prefix + "/".join(parts[:3]) + "/.../" + "/".join(parts[-2:])


def self_test(ls, canary):
    """A child must list a canary fd made inheritable on purpose (outside the tree root)."""
    with open(canary, "w") as f:
        f.write("canary\n")
    fd = os.open(canary, os.O_RDONLY)
    try:
        os.set_inheritable(fd, True)
        out = list_fds(ls)
    finally:
        os.close(fd)
        os.unlink(canary)
    return " %d -> %s" % (fd, canary) in out


def build_tree(tree, chains, depth):
    for c in range(chains):
        os.makedirs(os.path.join(tree, "c%d" % c, *["d%03d" % d for d in range(1, depth + 1)]))


def main():
    versions = {"python": platform.python_version(), "kernel": platform.release(), "os": os_release()}
    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="/dev/shm")
    p.add_argument("--depth", type=int, default=150)
    p.add_argument("--chains", type=int, default=4)
    # 16 threads, not 100: with the GIL, more spawning threads starve the remover thread and
    # fewer children overlap a removal (measured on 2 cores: 100 -> 591, 16 -> 1119 of them in 10 s).
    p.add_argument("--spawners", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--max-trees", type=int, default=100000)
    p.add_argument("--rates", action="store_true")
    try:
        cfg = p.parse_args()
    except SystemExit:
        emit("error", 0, {"reason": "bad arguments: %s" % " ".join(sys.argv[1:])}, versions)
        return 1
    try:
        return race(cfg, versions)
    except Exception as e:  # the verdict line must come out whatever happens
        emit("error", 0, {"reason": "%s: %s" % (type(e).__name__, e)}, versions)
        return 1


def race(cfg, versions):
    ls = shutil.which("ls")
    if not ls:
        emit("skipped", 0, {"reason": "no ls to list /proc/self/fd in children"}, versions)
        return 0
    if min(cfg.depth, cfg.chains, cfg.spawners, cfg.max_trees) < 1 or cfg.seconds <= 0:
        raise ValueError("depth, chains, spawners, seconds and max-trees must be positive")
    # shutil.rmtree's fd-based walk is the one that holds directory fds open.
    remover = "shutil.rmtree (fd-based: %s)" % getattr(shutil.rmtree, "avoids_symlink_attacks", False)
    root = os.path.join(cfg.dir, "reprolab-rmtree-%d" % os.getpid())
    prefix = root + "/"
    fsname = fs_type(cfg.dir)
    os.makedirs(root)
    print("rmtree-cloexec-leak: %s; trees of %d chains x %d levels under %s (%s); %d threads exec %s -al /proc/self/fd"
          % (remover, cfg.chains, cfg.depth, root, fsname, cfg.spawners, ls), flush=True)
    try:
        if not self_test(ls, root + ".canary"):
            emit("error", 0, {"reason": "detector self-test: the child did not list a deliberately inherited fd"}, versions)
            return 1
        print("detector self-test: a child saw a deliberately inherited fd", flush=True)
        return run_race(cfg, versions, ls, root, prefix, fsname, remover)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_race(cfg, versions, ls, root, prefix, fsname, remover):
    lock = threading.Lock()
    stop = threading.Event()
    removing = threading.Event()  # set while the remover is inside shutil.rmtree: the window that can leak
    st = {"overlapped": 0, "trees": 0, "children": 0, "failed": 0, "leak_kids": 0, "leaked_fds": 0, "max": 0,
          "first": None, "ttd": None, "leak_trees": set(), "error": None}
    # The first tree is built before the clock starts: time-to-detect measures the race.
    build_tree(os.path.join(root, "t00000"), cfg.chains, cfg.depth)
    start = time.monotonic()
    deadline = start + cfg.seconds

    def stopped():
        return stop.is_set() or time.monotonic() > deadline

    def remover_loop():
        try:
            i = 0
            while i < cfg.max_trees and not stopped():
                tree = os.path.join(root, "t%05d" % i)
                if i > 0:  # the first tree was built before the race started
                    build_tree(tree, cfg.chains, cfg.depth)
                removing.set()
                try:
                    shutil.rmtree(tree)
                finally:
                    removing.clear()
                if os.path.lexists(tree):
                    raise RuntimeError("rmtree left %s behind" % tree)
                with lock:
                    st["trees"] += 1
                i += 1
        except Exception as e:
            st["error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            stop.set()

    def spawning():
        while not stopped():
            during = removing.is_set()
            try:
                out = list_fds(ls)
            except (OSError, subprocess.SubprocessError):
                out = None
            leaks = leaked_targets(out or "", prefix)
            with lock:
                st["children"] += 1
                st["overlapped"] += during
                if not out:
                    st["failed"] += 1
                if leaks:
                    st["leak_kids"] += 1
                    st["leaked_fds"] += len(leaks)
                    st["max"] = max(st["max"], len(leaks))
                    st["leak_trees"].update(t[len(prefix):].split("/", 1)[0].replace(" (deleted)", "") for _, t in leaks)
                    if st["first"] is None:
                        st["ttd"] = int((time.monotonic() - start) * 1000)
                        fd, target = leaks[0]
                        st["first"] = {"fd": fd, "path": shorten(target, prefix),
                                       "below_root": target[len(prefix):].count("/") + 1, "fds_in_child": len(leaks)}
                        print("leak: after %d ms a child held %d fds under the tree, e.g. fd %s -> %s"
                              % (st["ttd"], len(leaks), fd, shorten(target, prefix)), flush=True)
                        if not cfg.rates:
                            stop.set()

    threads = [threading.Thread(target=remover_loop)] + [threading.Thread(target=spawning) for _ in range(cfg.spawners)]
    for t in threads:
        t.daemon = True
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, deadline + 30 - time.monotonic()))
    if any(t.is_alive() for t in threads):
        emit("error", st["trees"], {"reason": "watchdog: threads still running 30 s after the bound"}, versions)
        return 1
    elapsed = time.monotonic() - start
    if st["error"]:
        emit("error", st["trees"], {"reason": st["error"]}, versions)
        return 1
    if st["children"] == 0 or st["failed"] == st["children"]:
        emit("error", st["trees"], {"reason": "no child listed its fds (%d spawned, %d failed)"
                                    % (st["children"], st["failed"])}, versions)
        return 1
    share = st["leak_kids"] / st["children"]
    print("%d trees removed, %d children, %d saw leaked fds (%.2f%%), %d leaked fds in all, %.1f s"
          % (st["trees"], st["children"], st["leak_kids"], 100 * share, st["leaked_fds"], elapsed), flush=True)
    evidence = {
        "remover": remover,
        "detector": "children exec 'ls -al /proc/self/fd' (close_fds=False); a leak is a target under the tree root",
        "detector_selftest": "ok",
        "tree": {"depth": cfg.depth, "chains": cfg.chains, "dirs": cfg.depth * cfg.chains, "dir": cfg.dir, "fs": fsname},
        "trees_removed": st["trees"], "trees_with_leak": len(st["leak_trees"]),
        "spawners": cfg.spawners, "children": st["children"],
        "children_while_removing": st["overlapped"], "children_failed": st["failed"],
        "children_with_leak": st["leak_kids"], "leak_share": round(share, 4),
        "leaked_fds": st["leaked_fds"], "leaked_fds_max_in_child": st["max"],
        "elapsed_ms": int(elapsed * 1000), "stop_at_first_leak": not cfg.rates,
    }
    if st["first"]:
        evidence["first_leak"] = st["first"]
        evidence["time_to_detect_ms"] = st["ttd"]
        emit("reproduced", st["trees"], evidence, versions)
    else:
        emit("not-reproduced", st["trees"], evidence, versions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
