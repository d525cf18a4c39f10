#!/usr/bin/env python3
"""Entry point: python lab.py <command>. Everything lives in the reprolab package."""

import os
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".venv"
VENV_PYTHON = VENV / "bin" / "python"

try:
    from reprolab.cli import main
except ImportError as exc:
    # `make` installs the pinned dependencies into .venv; a bare `python lab.py` uses it.
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV.resolve() \
            and not os.environ.get("REPROLAB_NO_REEXEC"):
        os.environ["REPROLAB_NO_REEXEC"] = "1"
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.stderr.write(f"lab.py: missing Python package ({exc.name}); run 'make venv' (creates .venv) or "
                     f"'pip install -r requirements.txt'\n")
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
