"""reprolab: a containerised lab of reproduction scenarios for low-level Linux bugs."""

import os
import sys

__version__ = "0.1.0"

# docker-py imports paramiko at import time for ssh:// engines, which costs about 0.4 s on every
# command (a third of a short `lab.py run`). Let it load only when an ssh:// engine is named.
if "paramiko" not in sys.modules and not (
        "ssh://" in os.environ.get("DOCKER_HOST", "") or any("ssh://" in a for a in sys.argv)
        or os.environ.get("REPROLAB_SSH")):
    sys.modules["paramiko"] = None  # `import paramiko` raises ImportError; docker-py then skips ssh
