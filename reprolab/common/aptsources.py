"""The Debian mirror the host's apt uses, read from its sources at run time (never written down):
for debootstrap (engines.bases) and the lab's private apt states (common.debarchive)."""

import os
import re
from pathlib import Path

from reprolab.common.errors import UserError


def mirrors(sources_dir="/etc/apt"):
    """(archive URL, security URL or '') for Debian, from REPROLAB_MIRROR or the host's apt sources."""
    env = os.environ.get("REPROLAB_MIRROR", "")
    entries = []
    root = Path(sources_dir)
    for path in sorted(root.glob("sources.list.d/*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            if fields.get("Types", "deb").split()[0] == "deb" and "URIs" in fields:
                entries.append((fields["URIs"].split()[0], fields.get("Suites", "")))
    for path in [root / "sources.list"] + sorted(root.glob("sources.list.d/*.list")):
        if path.is_file():
            for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", path.read_text(), re.M):
                entries.append((m.group(1), m.group(2)))
    debian = [(u, s) for u, s in entries if re.search(r"/debian/?$", u)]
    security = [u for u, s in entries if "security" in s or u.rstrip("/").endswith("debian-security")]
    archive = env or next((u for u, s in debian if "security" not in s), "")
    if not archive:
        raise UserError("no Debian mirror found in the host's apt sources; set REPROLAB_MIRROR to a Debian mirror URL")
    return archive, (security[0] if security else "")
