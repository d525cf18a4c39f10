"""Removing the lab's stray containers without touching the containers of runs still going."""

from dataclasses import dataclass

import docker
import requests

from reprolab.common import labels
from reprolab.engines import ownership
from reprolab.engines.engine_errors import boundary, url


@dataclass(frozen=True)
class Decision:
    container: str  # short id
    run: str
    what: str  # scenario:variant, or "privilege probe"
    state: str  # an ownership state
    reason: str
    removed: bool


def lab_containers(client, runs=(), root_steps=False):
    """Every container the lab labelled (of the given run ids only, when some are given; only root
    steps' with `root_steps`)."""
    filters = ([f"{labels.RUN}={r}" for r in runs] if runs else [labels.ROOTSTEP] if root_steps
               else [labels.RUN, labels.PROBE, labels.ROOTSTEP])
    found = {}
    with boundary("running 'clean'", url(client)):
        for f in filters:
            for c in client.containers.list(all=True, filters={"label": f}):
                found[c.id] = c
    return list(found.values())


def clean(client, force=False, runs=(), proc="/proc", hostname=None, root_steps=False):
    """Remove lab containers whose owning run is gone (all of them with `force`); a Decision each."""
    decisions = []
    for c in lab_containers(client, runs, root_steps):
        lab = c.labels or {}
        state, reason = ownership.owner_state(lab, proc, hostname)
        what = (f"{lab.get(labels.SCENARIO)}:{lab.get(labels.VARIANT)}" if labels.SCENARIO in lab
                else "privilege probe" if labels.PROBE in lab
                else f"root step: {lab[labels.ROOTSTEP]}" if labels.ROOTSTEP in lab else "?")
        remove = state == ownership.GONE or force
        if force and state != ownership.GONE:
            reason = f"--force, although {reason}"
        removed = False
        if remove:
            try:
                c.remove(force=True, v=True)  # a root step's anonymous volume goes with it
                removed = True
            except docker.errors.NotFound:
                reason = "already removed by someone else"
            except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
                reason = f"removal failed: {str(exc).splitlines()[0][:200]}"
        decisions.append(Decision(c.short_id, lab.get(labels.RUN, ""), what, state, reason, removed))
    return decisions
