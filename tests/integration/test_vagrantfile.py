import shutil
import subprocess

import pytest

from conftest import ROOT, in_ci


def tool(name):
    if shutil.which(name) is None:
        if in_ci():
            pytest.fail(f"CI=true and no {name} (scripts/install-test-deps.sh installs it)")
        pytest.skip(f"{name} is not installed")


def test_vagrantfile_is_valid_ruby():
    tool("ruby")
    proc = subprocess.run(["ruby", "-c", str(ROOT / "Vagrantfile")], capture_output=True, text=True)
    assert proc.returncode == 0 and "Syntax OK" in proc.stdout, proc.stderr


def test_vagrant_validates_every_machine():
    tool("vagrant")
    proc = subprocess.run(["vagrant", "validate", "--ignore-provider"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and "Vagrantfile validated successfully" in proc.stdout, proc.stdout + proc.stderr
    status = subprocess.run(["vagrant", "status", "--machine-readable"], capture_output=True, text=True, cwd=ROOT,
                            timeout=120, env={"VAGRANT_DEFAULT_PROVIDER": "docker", "PATH": "/usr/bin:/bin"})
    names = {line.split(",")[1] for line in status.stdout.splitlines() if ",metadata," in line or ",state," in line}
    assert {"bullseye", "bookworm", "trixie", "jammy", "trusty"} <= names, status.stdout[-2000:]
