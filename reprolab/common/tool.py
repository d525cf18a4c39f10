"""Running the host tools the kernel matrix needs (apt, debootstrap, mkfs.ext4, depmod, dpkg-deb):
bounded in time, and failing as one EngineError that says what failed and what to install."""

import os
import re
import subprocess

INSTALL = "run 'sudo bash scripts/setup-guests.sh'"


def run(argv, what, timeout=600, cwd=None, lines=3, redact=False):
    """stdout of `argv`; EngineError naming `what` when it is missing, times out or fails.
    `redact` replaces URLs in the error (a mirror's host never goes into records or logs)."""
    from reprolab.common.errors import EngineError
    try:
        proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              env=dict(os.environ, LC_ALL="C"))
    except FileNotFoundError:
        raise EngineError(f"{argv[0]} not found ({what}); {INSTALL}") from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"{what} did not finish within {timeout} s") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-lines:])
        if redact:
            tail = re.sub(r"https?://\S+", "<mirror>", tail)
        raise EngineError(f"{what} failed: {tail[:400]}")
    return proc.stdout
