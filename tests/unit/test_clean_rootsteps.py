"""clean and root steps: which containers it looks at, and how it names a root step's container."""

import subprocess

from reprolab.common import labels
from reprolab.engines import clean, ownership


class FakeContainer:
    def __init__(self, cid, lab):
        self.id, self.short_id, self.labels = cid, cid[:12], lab
        self.removed = None

    def remove(self, force=False, v=False):
        self.removed = (force, v)


class FakeClient:
    def __init__(self, containers):
        self.all, self.asked = containers, []
        self.containers = self

    def list(self, all=False, filters=None):
        self.asked.append(filters["label"])
        key = filters["label"].split("=")[0]
        return [c for c in self.all if key in c.labels]


def dead_owner():
    child = subprocess.Popen(["sleep", "60"])
    owner = ownership.owner_labels(child.pid)
    child.kill()
    child.wait()
    return owner


def test_a_root_step_of_a_dead_owner_is_removed_with_its_volume():
    owner = dead_owner()
    step = FakeContainer("a" * 64, {labels.ROOTSTEP: "the image disk", **owner})
    run = FakeContainer("b" * 64, {labels.RUN: "r1", **owner})
    client = FakeClient([step, run])
    decisions = clean.clean(client, root_steps=True)
    assert client.asked == [labels.ROOTSTEP]  # another run's stray is not looked at
    assert [(d.container, d.what, d.removed) for d in decisions] == [("a" * 12, "root step: the image disk", True)]
    assert step.removed == (True, True) and run.removed is None
    assert decisions[0].reason == f"its owner, pid {owner[labels.OWNER_PID]}, has exited"


def test_plain_clean_looks_at_runs_probes_and_root_steps():
    client = FakeClient([])
    clean.clean(client)
    assert client.asked == [labels.RUN, labels.PROBE, labels.ROOTSTEP]
