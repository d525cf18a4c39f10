"""scripts/clean-test-images.sh removes by the label the lab puts on fixture images, and CI runs it
before the tests (the engine part is tests/integration/test_clean_and_bases.py)."""

import re
import subprocess

from conftest import ROOT
from reprolab.common import labels

SCRIPT = ROOT / "scripts" / "clean-test-images.sh"


def test_the_script_filters_on_the_fixture_label_the_lab_writes():
    assert re.search(r"^LABEL=(\S+)$", SCRIPT.read_text(), re.M).group(1) == f"{labels.FIXTURE}=true"


def test_ci_cleans_the_fixture_images_right_before_the_test_command():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines[-2:] == ["bash scripts/clean-test-images.sh", "make test"]


def test_an_unknown_argument_is_one_line_and_exit_2():
    proc = subprocess.run(["bash", str(SCRIPT), "--all"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"clean-test-images: unknown argument '--all'; usage: {SCRIPT} "
                           f"[--filter label=KEY=VALUE ...]\n")
