"""The real-library variants on a stock Debian host: AppArmor on, real privileged mode, cgroup v2 and
v1, in a qemu guest (this machine's own kernel has no AppArmor and emulates privileged mode)."""

import json

from integration.conftest import lab

KERNEL = "bookworm"  # Debian's 6.1: AppArmor enabled as Debian ships it


def run_in_guest(tmp_path, cgroup, *selectors):
    results = tmp_path / cgroup
    proc = lab("--results", str(results), "run", *selectors, "--suite", "bookworm", "--kernel", KERNEL,
               "--cgroup", cgroup, timeout=1800)
    records = list(results.glob("*.json"))
    assert len(records) == 1, proc.stdout + proc.stderr[-3000:]
    return proc, json.loads(records[0].read_text())


def test_lxc_fd_race_real_libraries_on_an_apparmor_v2_guest(client, tmp_path):
    proc, rec = run_in_guest(tmp_path, "v2", "lxc-fd-race:go-lxc", "lxc-fd-race:python3-lxc",
                             "liblxc-cgroup-escape:libcontainer")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert rec["host"]["guest"]["cgroup"] == "v2" and rec["host"]["cgroup"] == "v2"
    assert rec["privileged_mode"] == "privileged"  # real, not emulated
    by = {r["variant"]: r for r in rec["results"]}
    for name in ("go-lxc", "python3-lxc"):
        r = by[name]
        assert r["outcome"] == "not-reproduced", r["reason"]
        setup, lsm = r["evidence"]["setup"], r["evidence"]["lsm"]
        assert setup["apparmor_module_enabled"] == "Y" and setup["layout"] == "v2"
        assert lsm["lxc.apparmor.profile"] == "unconfined"
        assert r["evidence"].get("start_failures", 0) == 0
    lc = by["libcontainer"]
    assert lc["outcome"] == "not-reproduced", lc["reason"]  # runs on v2 now, no longer skipped


def test_libcontainer_judges_only_what_it_manages_on_a_v1_guest(client, tmp_path):
    """Kernel 6.1 mounts a `misc` v1 controller that runc 1.1.5 does not manage: the container stays
    in its parent's misc cgroup, which is not the bug and must not be counted as an escape."""
    proc, rec = run_in_guest(tmp_path, "v1", "liblxc-cgroup-escape:libcontainer",
                             "liblxc-cgroup-escape:libcontainer-model")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert rec["host"]["cgroup"] == "v1"
    by = {r["variant"]: r for r in rec["results"]}
    assert by["libcontainer"]["outcome"] == "not-reproduced", by["libcontainer"]["reason"]
    assert "misc" in by["libcontainer"]["evidence"]["unmanaged_hierarchies"]
    assert by["libcontainer-model"]["outcome"] == "reproduced"
