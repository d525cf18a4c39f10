"""run --host: an sshd on loopback in front of the local engine acts as a second, remote host."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, in_ci
from integration.conftest import lab
from reprolab.results import record

pytestmark = pytest.mark.docker


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ssh_engine(tmp_path_factory):
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd) or os.geteuid() != 0:
        if in_ci():
            pytest.fail("CI=true and no sshd (scripts/install-test-deps.sh installs openssh-server) or not root")
        pytest.skip("needs root and openssh-server")
    d = tmp_path_factory.mktemp("ssh")
    for key in ("host_key", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    (d / "authorized_keys").write_text((d / "id.pub").read_text())
    os.chmod(d, 0o700)
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n"
        f"PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"UsePAM no\nStrictModes no\nPidFile {d}/sshd.pid\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE)
    home = d / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(f"Host 127.0.0.1\n  IdentityFile {d}/id\n  User root\n")
    host_pub = (d / "host_key.pub").read_text().split()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"ssh://root@127.0.0.1:{port}", {"HOME": str(home)}
    proc.terminate()
    proc.wait(timeout=10)


def test_two_hosts_in_parallel_one_record_each(client, tmp_path, ssh_engine):
    url, env = ssh_engine
    results = tmp_path / "r"
    proc = lab("--scenarios", str(FIXTURES / "scenarios"), "--results", str(results), "run",
               "outcomes:present", "outcomes:absent", "--host", "unix:///var/run/docker.sock", "--host", url,
               env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = [record.load(p) for p in record.list_records(results)]
    assert len(recs) == 2
    urls = sorted(r["host"]["engine_url"] for r in recs)
    assert urls == sorted(["unix:///var/run/docker.sock", url])
    for r in recs:
        assert [x["outcome"] for x in r["results"]] == ["reproduced", "not-reproduced"]
    remote = next(r for r in recs if r["host"]["engine_url"] == url)
    assert remote["host"]["host_label"] == f"127.0.0.1:{url.rsplit(':', 1)[1]}" and remote["host"]["kernel"]
    cmp = lab("compare", str(results), "--by", "host", "--format", "github")
    assert cmp.returncode == 0
    header = cmp.stdout.splitlines()[0]
    assert f"127.0.0.1:{url.rsplit(':', 1)[1]}" in header and recs[0]["host"]["hostname"] in header


def test_unreachable_host_is_reported_and_others_still_run(client, tmp_path):
    results = tmp_path / "r"
    dead = f"tcp://127.0.0.1:{free_port()}"  # bound, then closed: nobody listens there
    proc = lab("--scenarios", str(FIXTURES / "scenarios"), "--results", str(results), "run", "outcomes:present",
               "--host", "unix:///var/run/docker.sock", "--host", dead)
    assert proc.returncode == 2
    assert f"== {dead}\nerror: no Docker engine answers at {dead}" in proc.stdout
    assert "Traceback" not in proc.stderr
    recs = {r["host"]["engine_url"]: r for r in map(record.load, record.list_records(results))}
    assert [x["outcome"] for x in recs["unix:///var/run/docker.sock"]["results"]] == ["reproduced"]
    failed = recs[dead]["results"]  # the failed host has a record too, so compare shows it
    assert [(x["variant"], x["outcome"]) for x in failed] == [("present", "error")]
    assert failed[0]["reason"].startswith(f"no Docker engine answers at {dead}")
    cmp = lab("compare", str(results), "--by", "host")
    assert cmp.returncode == 0 and dead.split("://")[1] in cmp.stdout.splitlines()[0]
    assert "error" in cmp.stdout
