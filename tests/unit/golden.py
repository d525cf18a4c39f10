"""Golden-file comparison; LAB_UPDATE_GOLDEN=1 rewrites the files instead of comparing."""

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def check(name, text):
    path = GOLDEN / name
    if os.environ.get("LAB_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"golden file {path} missing; run with LAB_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{name} differs from its golden file (LAB_UPDATE_GOLDEN=1 to accept)"
