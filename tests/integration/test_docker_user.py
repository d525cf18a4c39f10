"""Not only root: a fresh user in the `docker` group runs the lab, guests included.

The user gets its own home and cache, a copy of the checkout it can read and a venv of the system
Python; only the kernel is handed over from root's cache (copied, and given to the user). Its root
disk, modules disk and image disk are made by its own lab, as root in containers on the engine; at
the end nothing in its cache belongs to root, and `clean` as that user tidies up after a kill -9.
"""

import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT
from reprolab.common import cache, labels
from reprolab.guests import kernels

pytestmark = pytest.mark.docker
KERNEL = "bullseye"  # 5.10: the kernel the issue tried
SYSTEM_PYTHON = "/usr/bin/python3"
SCENARIO = "docker-user"  # tests/fixtures/scenarios/outcomes.yaml, renamed


def _owned_by_root(folder):
    """Every path under `folder` (itself included) that root owns."""
    found = []
    for dirpath, dirs, files in os.walk(folder):
        for name in [""] + dirs + files:
            path = os.path.join(dirpath, name) if name else dirpath
            if os.lstat(path).st_uid == 0:
                found.append(path)
    return found


@pytest.fixture(scope="module")
def docker_user(client):
    """A new user in the docker group with a readable copy of the lab and a venv; removed afterwards."""
    if os.geteuid() != 0:
        pytest.fail("this test makes a user: run it as root (CI does)")
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail(f"{SYSTEM_PYTHON} missing: a user's venv needs the system Python (python3-venv)")
    name = f"rl{secrets.token_hex(3)}"
    base = Path(tempfile.mkdtemp(prefix="reprolab-user-", dir="/tmp"))
    base.chmod(0o755)
    home = base / "home"
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--groups", "docker",
                    "--shell", "/bin/sh", name], check=True, capture_output=True)
    try:
        lab_dir = base / "lab"
        lab_dir.mkdir()
        for part in ("lab.py", "reprolab", "scenarios", "images"):
            src = ROOT / part
            (shutil.copytree(src, lab_dir / part, ignore=shutil.ignore_patterns("__pycache__"))
             if src.is_dir() else shutil.copy2(src, lab_dir / part))
        # the fixture scenario under a name of its own: its image tags are this test's alone on an
        # engine where other runs build the fixture scenarios at the same time
        scenarios = lab_dir / "fixture-scenarios"
        scenarios.mkdir()
        shutil.copytree(FIXTURES / "scenarios" / "outcomes", scenarios / SCENARIO, symlinks=True)
        text = (FIXTURES / "scenarios" / "outcomes.yaml").read_text()
        (scenarios / f"{SCENARIO}.yaml").write_text(text.replace("name: outcomes\n", f"name: {SCENARIO}\n", 1))
        venv = base / "venv"
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r",
                        str(ROOT / "requirements.txt")], check=True, capture_output=True, timeout=900)
        subprocess.run(["chmod", "-R", "a+rX", str(lab_dir), str(venv)], check=True)
        yield User(name, home, lab_dir, venv, client)
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


class User:
    def __init__(self, name, home, lab_dir, venv, client):
        self.name, self.home, self.lab_dir, self.venv, self.client = name, home, lab_dir, venv, client
        self.uid = pwd.getpwnam(name).pw_uid
        self.cache = home / ".cache" / "reprolab"
        self.results = home / "results"

    def argv(self, *args):
        # a login-like environment: no /usr/sbin on PATH, the user's own HOME and XDG cache
        env = ["env", "-i", f"HOME={self.home}", f"USER={self.name}", f"LOGNAME={self.name}",
               "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", f"XDG_CACHE_HOME={self.home / '.cache'}"]
        return ["runuser", "-u", self.name, "--", *env, str(self.venv / "bin" / "python"), str(self.lab_dir / "lab.py"),
                "--scenarios", str(self.lab_dir / "fixture-scenarios"), "--results", str(self.results), *args]

    def lab(self, *args, timeout=3600):
        """Run the lab as the user; on timeout its whole session (runuser and the lab) is killed."""
        proc = subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.home, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"lab.py {' '.join(args)} as {self.name} took more than {timeout} s:\n{err[-3000:]}")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def start(self, *args):
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.home)

    def records(self):
        return sorted(self.results.glob("*.json"))

    def give_kernel(self):
        """Root's cached kernel and apt indexes, copied into the user's cache and given to the user
        (the kernel's initramfs and modules disk are left out: the user's lab makes its own)."""
        k = kernels.fetch(kernels.choose(KERNEL))
        src = Path(k.image).parent
        dest = self.cache / "kernels" / src.name
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("initramfs-*", "modules.img"), symlinks=True)
        shutil.copytree(cache.root() / "apt" / KERNEL, self.cache / "apt" / KERNEL, symlinks=True)
        subprocess.run(["chown", "-R", f"{self.name}:{self.name}", str(self.home)], check=True)
        return k


def _wait_for(proc, text, timeout):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return seen
    pytest.fail(f"'{text}' never appeared; lab said:\n{''.join(seen)[-3000:]}")


def _rootstep_containers(client, pid):
    return [c for c in client.containers.list(all=True, filters={"label": labels.ROOTSTEP})
            if c.labels.get(labels.OWNER_PID) == str(pid)]


def test_a_docker_user_runs_a_host_variant(docker_user):
    u = docker_user
    proc = u.lab("run", f"{SCENARIO}:present", f"{SCENARIO}:absent")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    rec = json.loads(u.records()[-1].read_text())
    assert rec["host"]["lab_user"] == {"name": u.name, "uid": u.uid}
    assert rec["host"]["root_steps"] == "engine"
    assert [(r["variant"], r["outcome"]) for r in rec["results"]] == [("present", "reproduced"),
                                                                        ("absent", "not-reproduced")]
    assert _owned_by_root(u.home) == []


def test_a_docker_user_runs_a_guest_and_cleans_after_a_kill_9(docker_user):
    u = docker_user
    client = u.client
    k = u.give_kernel()
    # 1. killed (-9) while its root disk is being made as root in a container on the engine
    proc = u.start("run", f"{SCENARIO}:present", "--kernel", KERNEL)
    try:
        _wait_for(proc, "as root in a container on the Docker engine", 900)
        time.sleep(15)  # debootstrap is writing the tree
        steps = _rootstep_containers(client, proc.pid) or _rootstep_containers(client, _child_pid(proc.pid))
        assert steps and steps[0].labels[labels.ROOTSTEP] == "the guest root filesystem"
        lab_pid = int(steps[0].labels[labels.OWNER_PID])
        os.kill(lab_pid, signal.SIGKILL)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the step saw its owner go and stopped by itself; its container waits for `clean`
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(c.status == "running" for c in _rootstep_containers(client, lab_pid)):
        time.sleep(1)
    left = _rootstep_containers(client, lab_pid)
    assert left and all(c.status == "exited" for c in left), [c.status for c in left]
    out = u.lab("clean", "--root-steps", timeout=300)  # other runs' strays on this machine are not ours
    assert out.returncode == 0, out.stderr
    short = left[0].short_id
    assert (f"removed {short} (run ?, root step: the guest root filesystem): its owner, pid {lab_pid}, "
            f"has exited") in out.stdout, out.stdout
    assert _rootstep_containers(client, lab_pid) == []
    assert _owned_by_root(u.home) == []

    # 2. the first guest run as that user (its root disk, modules disk and image disk made by it)
    before = {c.id for c in client.containers.list(all=True, filters={"label": labels.ROOTSTEP})}
    started = time.monotonic()
    first = u.lab("run", f"{SCENARIO}:present", f"{SCENARIO}:absent", "--kernel", KERNEL, "--cgroup", "v1")
    cold = time.monotonic() - started
    assert first.returncode == 0, first.stdout + first.stderr[-4000:]
    rec = json.loads(u.records()[-1].read_text())
    host, g = rec["host"], rec["host"]["guest"]
    assert host["kernel"] == k.release == g["kernel_release"] and host["cgroup"] == "v1"
    assert host["lab_user"] == {"name": u.name, "uid": u.uid} and host["root_steps"] == "engine"
    assert g["images_on_disk"] == 4 and g["images_sent"] == 0  # base, the two variants, the calibration image
    assert [(r["variant"], r["outcome"]) for r in rec["results"]] == [("present", "reproduced"),
                                                                        ("absent", "not-reproduced")]
    made = json.loads(next((u.cache / "rootfs").glob("*/rootfs.json")).read_text())
    assert made["root_steps"] == "engine" and made["made_by"] == u.name
    assert _owned_by_root(u.home) == []
    assert {c.id for c in client.containers.list(all=True, filters={"label": labels.ROOTSTEP})} <= before

    # 3. the same again, warm: everything from the user's cache
    started = time.monotonic()
    again = u.lab("run", f"{SCENARIO}:present", f"{SCENARIO}:absent", "--kernel", KERNEL, "--cgroup", "v1")
    warm = time.monotonic() - started
    assert again.returncode == 0, again.stdout + again.stderr[-4000:]
    assert "guest root filesystem" not in again.stderr and "image disk: loading" not in again.stderr
    assert _owned_by_root(u.home) == []
    print(f"\nfirst guest run as a docker user: cold {cold:.0f} s, warm {warm:.0f} s")


def _child_pid(pid):
    """runuser's child (the lab's python), whose pid the lab's owner labels name."""
    try:
        return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return -1
