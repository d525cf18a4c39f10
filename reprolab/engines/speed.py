"""An engine's speed: a short calibration in a container, and its ratio to the lab's own host.

Reproducers of races are written and timed on a host like the lab's; a qemu guest under TCG forks
and execs 17-26 times slower (FINDINGS.md). So each run measures its engine once: a static program
(images/calibrate.c) fork+execs itself for about a second, then runs a CPU loop for about a second,
each in five rounds, and prints what the best round of each counted (other work on a shared machine
takes the CPU for moments: the best round is the engine's own speed) and the totals. The rates, the lab's host's rates and the ratios between them become
the record's `host.speed`; runs.budget scales the wall-clock budgets with them.

The image is built by the lab (gcc and libc6-dev on a Debian base, then the binary alone on
`scratch`), labelled like every image of the lab, and reused by content hash.
"""

import hashlib
import json
import time

import docker
import requests

from reprolab.common import labels as lab_labels
from reprolab.engines import build, engine_errors, privilege
from reprolab.scenarios import render

TAG = "reprolab/calibrate:1"
SECONDS = 1.0  # of each measurement (fork+exec, CPU loop)
TIMEOUT = 300  # seconds for the whole calibration container (a TCG guest starts one in 3-9 s, a loaded one in minutes)
KIND = "calibrate"  # the org.reprolab.probe label of its containers


def context(base):
    """The calibration image's build context on `base` (a Debian image: apt installs gcc there)."""
    env = render.environment()
    source = (render.IMAGES_DIR / "calibrate.c").read_bytes()

    def dockerfile(labels):
        return env.get_template("calibrate.Dockerfile.j2").render(base=base, labels=labels)

    base_labels = [(lab_labels.SCENARIO, "_calibrate")]
    digest = hashlib.sha256(dockerfile(base_labels).encode() + b"\0" + source).hexdigest()[:16]
    labels = base_labels + [(lab_labels.CONTENT_HASH, digest)]
    text = dockerfile(labels)
    files = tuple(sorted([("Dockerfile", text.encode(), 0o644), ("calibrate.c", source, 0o644)]))
    return render.BuildContext(tag=TAG, dockerfile=text, files=files, content_hash=digest, labels=tuple(labels))


def ensure_image(client, base, base_id, progress=lambda msg: None, timeout=build.DEFAULT_TIMEOUT):
    """(image id, '') of the calibration image on `client`, built from `base` unless already there;
    ('', why) when it cannot be had."""
    ctx = context(base)
    built = build.build(client, ctx, progress, base_id, timeout)
    if built.ok:
        return built.image_id, ""
    return "", f"the calibration image did not build: {(built.log_tail.splitlines() or ['no output'])[-1][:200]}"


def present(client):
    """The calibration image's id on `client` (sent there from the lab's engine), or ''."""
    try:
        return client.images.get(TAG).id
    except (docker.errors.ImageNotFound, docker.errors.APIError, requests.exceptions.RequestException):
        return ""


def measure(client, labels=None, seconds=SECONDS, timeout=TIMEOUT):
    """Run the calibration once on `client`: {fork_exec_per_s, cpu_per_s, ...}, or {"error": why}.

    Created, started, waited for and removed step by step, like the privileged probe; no network,
    no capability, a pids limit: it only forks its own binary."""
    api = client.api
    cid, start = None, time.monotonic()
    try:
        hc = api.create_host_config(network_mode="none", cap_drop=["ALL"], pids_limit=256,
                                    security_opt=["no-new-privileges"])
        cid = api.create_container(TAG, [str(seconds)], host_config=hc, network_disabled=True,
                                   labels={lab_labels.PROBE: KIND, **(labels or {})})["Id"]
        api.start(cid)
        status = api.wait(cid, timeout=timeout)
        out = api.logs(cid, stdout=True, stderr=False).decode("utf-8", "replace").strip().splitlines()
        wall = round(time.monotonic() - start, 2)
        return parse(out[-1] if out else "", status.get("StatusCode"), wall)
    except docker.errors.ImageNotFound:
        return {"error": f"the calibration image {TAG} is not on this engine"}
    except docker.errors.APIError as exc:
        return {"error": f"the engine refused the calibration: {(exc.explanation or str(exc)).strip()[:200]}"}
    except requests.exceptions.RequestException as exc:
        if engine_errors.timed_out(exc):
            return {"error": f"the calibration did not end within {timeout} s ({str(exc)[:120]})"}
        return {"error": f"{engine_errors.ENGINE_AWAY} under the calibration ({str(exc)[:120]})"}
    finally:
        privilege.remove_quietly(api, cid)


def parse(line, status, wall):
    """The calibration's JSON line → rates; {"error": why} when it is not one or counted nothing."""
    try:
        data = json.loads(line)
    except ValueError:
        return {"error": f"the calibration printed no result (exit status {status}): {line[:120]!r}"}
    if not isinstance(data, dict) or "error" in data:
        return {"error": f"the calibration failed: {str(data.get('error') if isinstance(data, dict) else data)[:200]}"}
    try:
        fork_rate = data["fork_exec"] / data["fork_exec_seconds"]
        cpu_rate = data["cpu_chunks"] / data["cpu_seconds"]
    except (KeyError, TypeError, ZeroDivisionError):
        return {"error": f"the calibration's result lacks its counts: {line[:120]!r}"}
    if status != 0 or data.get("fork_exec_failed") or fork_rate <= 0 or cpu_rate <= 0:
        return {"error": f"the calibration failed (exit status {status}, {data.get('fork_exec_failed', 0)} "
                         f"failed fork+exec, {data.get('fork_exec', 0)} made)"}
    out = {"fork_exec_per_s": round(fork_rate, 1), "cpu_per_s": round(cpu_rate, 1),
           "fork_exec": data["fork_exec"], "cpu_chunks": data["cpu_chunks"],
           "cpu_chunk_iterations": data.get("cpu_chunk_iterations"), "container_seconds": wall}
    if data.get("rounds"):  # the rates are the best round's; the totals say what all rounds did
        out.update(rounds=data["rounds"], fork_exec_total=data.get("fork_exec_total"),
                   cpu_chunks_total=data.get("cpu_chunks_total"))
    return out


def compare(measured, reference):
    """`measured` with its ratio to `reference` (the lab's host): how many times slower this engine
    is at fork+exec and at computing, and the larger of the two (`slowdown`, what budgets scale by).
    A failed measurement on either side gives no ratio, and says why."""
    out = dict(measured)
    if "error" in measured:
        return out
    if not reference or "error" in reference:
        out["ratio_error"] = "the lab's host could not be measured: " + str((reference or {}).get("error", "no reference"))
        return out
    out["reference"] = {k: reference[k] for k in ("fork_exec_per_s", "cpu_per_s", "measured") if k in reference}
    fork = reference["fork_exec_per_s"] / measured["fork_exec_per_s"]
    cpu = reference["cpu_per_s"] / measured["cpu_per_s"]
    out["ratio"] = {"fork_exec": round(fork, 2), "cpu": round(cpu, 2)}
    out["slowdown"] = round(max(fork, cpu), 2)
    return out
