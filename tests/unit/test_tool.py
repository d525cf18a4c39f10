"""tool.run: a host tool's failure is one EngineError saying what failed (and hides mirror URLs)."""

import pytest

from reprolab.common import tool
from reprolab.common.errors import EngineError


def test_output_of_a_tool():
    assert tool.run(["sh", "-c", "echo hello"], "greeting") == "hello\n"


def test_a_missing_tool_says_what_to_install():
    with pytest.raises(EngineError) as err:
        tool.run(["reprolab-no-such-tool"], "making a disk")
    assert str(err.value) == ("reprolab-no-such-tool not found (making a disk); "
                              "run 'sudo bash scripts/setup-guests.sh'")


def test_a_failure_quotes_the_last_lines_without_urls():
    argv = ["sh", "-c", "echo one; echo 'E: Failed to fetch http://mirror.invalid/debian/x.deb 404' >&2; exit 3"]
    with pytest.raises(EngineError) as err:
        tool.run(argv, "apt could not download x", lines=2, redact=True)
    assert str(err.value) == "apt could not download x failed: one | E: Failed to fetch <mirror> 404"


def test_a_stalled_tool_is_stopped():
    with pytest.raises(EngineError) as err:
        tool.run(["sleep", "5"], "a slow step", timeout=0.2)
    assert str(err.value) == "a slow step did not finish within 0.2 s"
