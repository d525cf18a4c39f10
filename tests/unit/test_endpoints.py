"""run_on_hosts with endpoint objects: a guest that fails to boot still ends in a record with its facts."""

from contextlib import contextmanager
from pathlib import Path

from conftest import FIXTURES
from reprolab.guests import kernels, matrix
from reprolab.results import record
from reprolab.engines.endpoints import Connected
from reprolab.runs import hosts, session
from reprolab.scenarios import catalog, selection
from reprolab.common.errors import EngineError

BOOT_FAILURE = "guest 5.10.0-35-amd64-v1: no engine answered within 300 s; console:\n[   12.3] Kernel panic"


def targets():
    return selection.select(catalog.load_all(FIXTURES / "scenarios"), ["outcomes:present", "outcomes:absent"], [])


class FakeSession:
    def __init__(self, client, facts):
        self.client, self.facts, self.failed = client, facts, None

    def run(self):
        raise AssertionError("a session whose engine never answered must not run")

    def fail(self, reason, url):
        self.failed = (reason, url)
        return {"failed": reason, "host": dict(self.facts)}

    def abort(self):
        pass


class FailingGuest:
    """Sets its facts as a guest does while it boots, then fails the way a boot timeout does."""

    name = "5.10/v1"

    def __init__(self):
        self.facts = {"host_label": "guest 5.10.0-35-amd64 v1",
                      "guest": {"kernel_release": "5.10.0-35-amd64", "cgroup": "v1", "console_log": "c.log"}}

    @contextmanager
    def engine(self, progress):
        self.facts["guest"].update(accel="tcg", qemu="8.2.2")
        progress("booting, 10 s: Loading drivers")
        raise EngineError(BOOT_FAILURE)
        yield  # noqa: unreachable: a context manager that fails before it yields


def test_a_failing_endpoint_records_its_facts():
    lines, made = [], []

    def factory(client, progress, facts):
        made.append(FakeSession(client, facts))
        return made[-1]

    ep = FailingGuest()
    out = hosts.run_on_hosts([ep], factory, lines.append)
    (s,) = made
    assert out == {"5.10/v1": (s, {"failed": BOOT_FAILURE.split("\n")[0], "host": ep.facts}, BOOT_FAILURE)}
    assert s.client is None and s.facts is ep.facts
    assert s.facts["guest"]["accel"] == "tcg" and s.facts["guest"]["qemu"] == "8.2.2"
    assert s.failed == (BOOT_FAILURE.split("\n")[0], "5.10/v1")  # no URL: the endpoint's name
    assert lines == ["5.10/v1 booting, 10 s: Loading drivers",
                     "5.10/v1 error: guest 5.10.0-35-amd64-v1: no engine answered within 300 s; console:"]


def test_a_guest_endpoint_that_fails_to_boot_gets_a_valid_record(tmp_path, monkeypatch):
    """The real GuestEndpoint, its qemu replaced: the record holds the guest's facts and console tail."""
    results = tmp_path / "results"
    monkeypatch.setattr(matrix.guest, "accelerator", lambda image, progress: ("tcg", "no usable /dev/kvm"))
    monkeypatch.setattr(matrix.guest, "qemu_version", lambda: "8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)")

    @contextmanager
    def booted(kernel, cgroup, console, *args, **kwargs):
        Path(console).parent.mkdir(parents=True, exist_ok=True)
        Path(console).write_text("".join(f"boot line {i}\r\n" for i in range(60)) + "Kernel panic - not syncing\n")
        raise EngineError(f"guest {kernel.release}-{cgroup}: no engine answered within 300 s; console:\nKernel panic")
        yield

    monkeypatch.setattr(matrix.guest, "booted", booted)
    kernel = kernels.Kernel("5.10", "5.10.0-35-amd64", tmp_path / "vmlinuz", tmp_path / "root",
                            "debian bullseye linux-image-5.10.0-35-amd64 5.10.237-1")
    ep = matrix.GuestEndpoint(kernel, "v1", {}, source=None, results_dir=results,
                              shared=matrix.Endpoints(1), memory_mb=1536, cpus=1)

    def factory(client, progress, facts):
        return session.Session(Connected(client, facts), targets(), tmp_path / "results", ["lab.py", "run"],
                               progress)

    out = hosts.run_on_hosts([ep], factory, lambda msg: None)
    s, rec, error = out["5.10/v1"]
    assert error == "guest 5.10.0-35-amd64-v1: no engine answered within 300 s; console:\nKernel panic"
    stored = record.load(s.writer.path)
    assert stored == rec
    host = stored["host"]
    assert host["host_label"] == "guest 5.10.0-35-amd64 v1" and host["engine_url"] == "5.10/v1"
    g = host["guest"]
    assert (g["kernel_release"], g["cgroup"], g["accel"], g["memory_mb"], g["cpus"]) == (
        "5.10.0-35-amd64", "v1", "tcg", 1536, 1)
    assert g["qemu"] == "8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)" and g["accel_reason"] == "no usable /dev/kvm"
    assert g["ran_beside"] == []
    assert Path(g["console_log"]).parent == Path("logs", "guests") and (results / g["console_log"]).exists()
    assert g["console_tail"].splitlines()[-1] == "Kernel panic - not syncing"
    assert len(g["console_tail"].splitlines()) == 40 and "\r" not in g["console_tail"]
    assert [(r["variant"], r["outcome"], r["reason"]) for r in stored["results"]] == [
        ("present", "error", error.split("\n")[0]), ("absent", "error", error.split("\n")[0])]
