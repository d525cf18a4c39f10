import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def write_scenario(tmp_path):
    """Write a scenario file (and optional sources) into a temp scenarios folder; return its path."""
    def write(text, name="demo", sources=None):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        if sources is not None:
            (tmp_path / name).mkdir(exist_ok=True)
            for rel, content in sources.items():
                (tmp_path / name / rel).write_text(content)
        return path
    return write


@pytest.fixture
def fixture_scenarios(tmp_path):
    """A private copy of the fixture scenarios folder."""
    dst = tmp_path / "scenarios"
    shutil.copytree(FIXTURES / "scenarios", dst, symlinks=True)
    return dst


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
