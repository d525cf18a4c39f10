"""Hang forensics read only the container's own processes, from a fake /proc tree."""

from reprolab.runs import forensics

CID = "ab" * 32
CGROUP_IN = f"12:memory:/docker/{CID}\n0::/system.slice/docker-{CID}.scope\n"
CGROUP_OUT = "12:memory:/user.slice\n0::/user.slice/session-3.scope\n"


def proc_entry(root, pid, ppid, cmd, cgroup):
    d = root / str(pid)
    (d / "fd").mkdir(parents=True)
    (d / "stat").write_text(f"{pid} ({cmd}) S {ppid} 0 0 0\n")
    (d / "cmdline").write_text(f"{cmd}\0--flag\0")
    (d / "status").write_text("Name:\tx\nState:\tS (sleeping)\n")
    (d / "wchan").write_text("pipe_read")
    (d / "cgroup").write_text(cgroup)
    (d / "fd" / "0").symlink_to("pipe:[4242]")


def test_tree_of_the_container(tmp_path):
    proc_entry(tmp_path, 100, 1, "init", CGROUP_IN)
    proc_entry(tmp_path, 101, 100, "reader", CGROUP_IN)
    proc_entry(tmp_path, 102, 100, "escaped", CGROUP_OUT)
    proc_entry(tmp_path, 103, 102, "grandchild", CGROUP_IN)
    proc_entry(tmp_path, 200, 1, "unrelated", CGROUP_OUT)
    snap = forensics.snapshot(100, CID, proc=tmp_path)
    assert [(p["pid"], p["depth"], p["cmdline"]) for p in snap["processes"]] == [
        (100, 0, "init --flag"), (101, 1, "reader --flag")]
    assert snap["processes"][1]["fds"] == {"0": "pipe:[4242]"} and snap["processes"][1]["wchan"] == "pipe_read"
    assert snap["not_read"] == {"pids": [102], "why": "their cgroups do not name the container"}


def test_a_pid_of_another_process_is_not_read(tmp_path):
    proc_entry(tmp_path, 100, 1, "someone-elses", CGROUP_OUT)  # the engine's pid, reused or of another machine
    snap = forensics.snapshot(100, CID, proc=tmp_path)
    assert snap == {"unavailable": f"pid 100 is not in container {CID[:12]}'s cgroups "
                                   f"(another pid namespace, or the pid was reused)"}


def test_no_such_pid_or_no_pid(tmp_path):
    assert forensics.snapshot(100, CID, proc=tmp_path) == {
        "unavailable": "pid 100 is not in this machine's /proc (another pid namespace?)"}
    assert forensics.snapshot(0, CID, proc=tmp_path) == {"unavailable": "the engine gave no pid for the container"}
