"""Privileged mode where the host grants it, else the explicit settings that amount to it.

Some hosts lack a capability in the bounding set (CAP_SYS_RESOURCE on the lab's build machine), and
`--privileged` then fails with 'unable to apply caps'. The equivalent used instead: every grantable
capability, no seccomp/AppArmor confinement, unmasked /proc and /sys paths, access to every device,
and a private cgroup namespace; the image's entry point remounts /sys and the cgroups read-write.
"""

import docker
import requests

from reprolab.common import labels as lab_labels
from reprolab.engines.engine_errors import ENGINE_AWAY, timed_out

PRIVILEGED, EMULATED, CAPABILITIES = "privileged", "emulated", "capabilities"
PROBE_TIMEOUT = 60  # seconds for `true` to run; a probe that takes longer is refused


def clip(text, limit):
    """`text` on one line, at most `limit` characters, cut at a word boundary and marked '…' when cut
    (the privileged-fallback notice used to end mid-word)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1].rsplit(" ", 1)[0] if " " in text[:limit - 1] else text[:limit - 1]
    return cut.rstrip(" ,;:") + "…"


def probe(client, image, labels=None):
    """(True, '') when a privileged container starts on this engine, else (False, the engine's reason).

    Created, started, waited for and removed step by step: `containers.run(remove=True)` leaves the
    created container behind when the start is refused, which is the answer on hosts without
    privileged mode. `labels` (the run's and its owner's) let a sweep find a container whose id
    never reached us (an interrupt during the create call)."""
    api = client.api
    cid = None
    try:
        host_config = api.create_host_config(privileged=True, network_mode="none")
        cid = api.create_container(image, ["true"], host_config=host_config, network_disabled=True,
                                   labels={lab_labels.PROBE: "privileged", **(labels or {})})["Id"]
        api.start(cid)
        status = api.wait(cid, timeout=PROBE_TIMEOUT)
        if status.get("StatusCode") != 0:
            return False, f"a privileged `true` exited with status {status.get('StatusCode')}"
        return True, ""
    except docker.errors.APIError as exc:
        return False, (exc.explanation or str(exc)).strip()[:300]
    except requests.exceptions.RequestException as exc:
        if timed_out(exc):
            return False, f"no answer from the engine within {PROBE_TIMEOUT} s: {str(exc)[:200]}"
        return False, f"{ENGINE_AWAY} under the probe: {str(exc)[:200]}"
    finally:
        remove_quietly(api, cid)


def remove_quietly(api, cid):
    """Remove a probe's container (None: none was made), ignoring the engine's failure: the run's
    sweep finds a container left so by its labels."""
    if cid is None:
        return
    try:
        api.remove_container(cid, force=True)
    except (docker.errors.APIError, requests.exceptions.RequestException):
        pass
