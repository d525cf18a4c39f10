"""Who runs the lab, and so how its root steps are done.

Root runs them on the host, as it always did; a user of the Docker engine runs them as root in
containers on that engine (engines/rootstep.py). Records keep both facts."""

import os
import pwd

HOST, ENGINE = "host", "engine"  # where the root steps of this lab are done


def as_root():
    return os.geteuid() == 0


def root_steps():
    """HOST (the lab is root) or ENGINE (the lab is a user: root steps run in containers)."""
    return HOST if as_root() else ENGINE


def user():
    """{name, uid, gid} of the user running the lab."""
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return {"name": name, "uid": uid, "gid": os.getgid()}
