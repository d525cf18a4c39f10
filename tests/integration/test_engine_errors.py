"""An engine that fails outside a variant ends the command with one line and exit 2, never a traceback.

Each stage meets the real engine behind a proxy (faulty_engine.py) that breaks exactly the request
of that stage: the rest of the command talks to the real engine as usual.
"""

import pytest

from conftest import FIXTURES
from integration.conftest import lab
from integration.faulty_engine import FaultyEngine
from reprolab.results import record

pytestmark = pytest.mark.docker
SCEN = str(FIXTURES / "scenarios")
API = r"/v[\d.]+"


def one_line_error(proc, stage, url):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"lab.py: the Docker engine at {url} failed while {stage} ("), lines[0]
    assert "docker info" in lines[0]


def test_host_facts(client, tmp_path):
    with FaultyEngine([(f"GET {API}/info", "close")]) as eng:
        proc = lab("--scenarios", SCEN, "--results", str(tmp_path), "run", "outcomes:present",
                   env={"DOCKER_HOST": eng.url})
    one_line_error(proc, "reading the host's facts", eng.url)


def test_base(client, tmp_path):
    with FaultyEngine([(f"GET {API}/images/debian:bookworm/json", "garbage")]) as eng:
        proc = lab("base", "bookworm", env={"DOCKER_HOST": eng.url})
    one_line_error(proc, "making sure of the base image debian:bookworm", eng.url)


def test_build(client, tmp_path):
    with FaultyEngine([(f"POST {API}/build", "close")]) as eng:
        proc = lab("--scenarios", SCEN, "build", "--no-reuse", "outcomes:present", env={"DOCKER_HOST": eng.url})
    one_line_error(proc, "building reprolab/outcomes:present-bookworm", eng.url)


def test_clean(client, tmp_path):
    with FaultyEngine([(f"GET {API}/containers/json", "close")]) as eng:
        proc = lab("clean", env={"DOCKER_HOST": eng.url})
        where = eng.url
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lab.py: the Docker engine at {where} failed while running 'clean' ("), lines


def test_base_copy_to_a_remote_host(client, tmp_path):
    # the "remote" engine lacks the base and its registry is unreachable: the lab copies the local
    # engine's base to it, and the remote engine dies during the copy
    rules = [(f"GET {API}/images/debian:bookworm/json", (404, "No such image: debian:bookworm")),
             (f"POST {API}/images/create", (500, "Get https://registry/v2/: dial tcp: no such host")),
             (f"POST {API}/images/load", "close")]
    results = tmp_path / "r"
    with FaultyEngine(rules) as eng:
        proc = lab("--scenarios", SCEN, "--results", str(results), "run", "outcomes:present", "--host", eng.url)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert (f"== {eng.url}\nerror: the Docker engine at {eng.url} failed while copying debian:bookworm from the "
            f"local engine unix:///var/run/docker.sock (") in proc.stdout, proc.stdout
