"""tool.run: a host tool's failure is one EngineError saying what failed (and hides mirror URLs)."""

import pytest

from reprolab.common import tool
from reprolab.common.errors import EngineError


def test_output_of_a_tool():
    assert tool.run(["sh", "-c", "echo hello"], "greeting") == "hello\n"


def test_a_missing_tool_says_what_to_install():
    with pytest.raises(EngineError) as err:
        tool.run(["reprolab-no-such-tool"], "making a disk")
    assert str(err.value) == ("reprolab-no-such-tool not found on PATH nor in /usr/local/sbin, /usr/sbin, /sbin "
                              "(making a disk); install the package that provides it")


def test_a_missing_debian_tool_names_its_package(monkeypatch, tmp_path):
    monkeypatch.setattr(tool, "SBIN", (str(tmp_path),))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineError) as err:
        tool.run(["depmod", "-b", "root", "5.10.0-46-amd64"], "depmod 5.10.0-46-amd64")
    assert str(err.value) == (f"depmod not found on PATH nor in {tmp_path} (depmod 5.10.0-46-amd64); "
                              f"install Debian's kmod package: sudo apt-get install kmod")


def test_a_tool_in_sbin_runs_for_a_user_whose_path_lacks_it(monkeypatch, tmp_path):
    """A normal user's PATH has no /usr/sbin, where Debian keeps depmod and mkfs.ext4."""
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    (sbin / "reprolab-sbin-tool").write_text("#!/bin/sh\necho from sbin \"$@\"\n")
    (sbin / "reprolab-sbin-tool").chmod(0o755)
    monkeypatch.setattr(tool, "SBIN", (str(tmp_path / "none"), str(sbin)))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert tool.which("reprolab-sbin-tool") == str(sbin / "reprolab-sbin-tool")
    assert tool.run(["reprolab-sbin-tool", "x"], "a tool in sbin") == "from sbin x\n"
    assert tool.which("reprolab-no-such-tool") is None


def test_a_failure_quotes_the_last_lines_without_urls():
    argv = ["sh", "-c", "echo one; echo 'E: Failed to fetch http://mirror.invalid/debian/x.deb 404' >&2; exit 3"]
    with pytest.raises(EngineError) as err:
        tool.run(argv, "apt could not download x", lines=2, redact=True)
    assert str(err.value) == "apt could not download x failed: one | E: Failed to fetch <mirror> 404"


def test_a_stalled_tool_is_stopped():
    with pytest.raises(EngineError) as err:
        tool.run(["sleep", "5"], "a slow step", timeout=0.2)
    assert str(err.value) == "a slow step did not finish within 0.2 s"
