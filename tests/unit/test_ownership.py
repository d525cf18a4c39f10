"""Who owns a container: decided from a fake /proc tree."""

import pytest

from reprolab.common import labels
from reprolab.engines import ownership

BOOT = "0b1c2d3e-0000-4000-8000-000000000001"


def fake_proc(tmp_path, pids, boot=BOOT):
    (tmp_path / "sys/kernel/random").mkdir(parents=True)
    (tmp_path / "sys/kernel/random/boot_id").write_text(boot + "\n")
    for pid, start in pids.items():
        (tmp_path / str(pid)).mkdir()
        # a command name with spaces and a ')' must not shift the fields
        fields = ["S"] + ["0"] * 18 + [str(start)] + ["0"] * 10
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (we ird) name) " + " ".join(fields) + "\n")
    return tmp_path


def owner(pid=100, start="5000", host="labhost", boot=BOOT):
    return {labels.OWNER_HOST: host, labels.OWNER_BOOT_ID: boot, labels.OWNER_PID: str(pid),
            labels.OWNER_START: start}


def test_labels_name_this_process(tmp_path):
    proc = fake_proc(tmp_path, {100: 5000})
    assert ownership.owner_labels(100, proc, "labhost") == owner()


def test_start_time_of_the_real_process():
    assert ownership.start_time("self").isdigit()
    assert ownership.owner_state(ownership.owner_labels())[0] == ownership.LIVE


@pytest.mark.parametrize("lab, state, why", [
    (owner(), ownership.LIVE, "pid 100, is still running"),
    (owner(pid=101), ownership.GONE, "pid 101, has exited"),
    (owner(start="4999"), ownership.GONE, "that pid is now another process"),
    (owner(boot="another-boot"), ownership.GONE, "before this machine last booted"),
    (owner(host="otherhost"), ownership.ELSEWHERE, "ran on otherhost"),
    ({labels.RUN: "R"}, ownership.UNKNOWN, "names no owner"),
    ({**owner(), labels.OWNER_PID: "x"}, ownership.UNKNOWN, "names no owner"),
])
def test_owner_state(tmp_path, lab, state, why):
    proc = fake_proc(tmp_path, {100: 5000})
    got, reason = ownership.owner_state(lab, proc, "labhost")
    assert got == state and why in reason
