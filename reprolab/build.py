"""Build one rendered context with docker-py, reusing the layer cache; never raises for a bad build."""

import time
from dataclasses import dataclass

import docker
import requests

TAIL_LINES = 30


@dataclass(frozen=True)
class Built:
    ok: bool
    image_id: str
    seconds: float
    steps: int
    cached_steps: int
    log_tail: str


def build(client, ctx, progress=lambda msg: None):
    start = time.monotonic()
    log, steps, cached, image_id, error, pending = [], 0, 0, "", "", ""
    try:
        stream = client.api.build(fileobj=ctx.tar(), custom_context=True, tag=ctx.tag, rm=True,
                                  forcerm=True, pull=False, decode=True)
        for chunk in stream:
            if "stream" in chunk:
                for line in chunk["stream"].splitlines():
                    if not line.strip():
                        continue
                    log.append(line)
                    if line.startswith("Step "):
                        steps += 1
                        pending = line.strip()
                    elif "Using cache" in line:
                        cached += 1
                    elif "Running in" in line and pending:
                        progress(pending)  # only steps that really run; cached ones stay quiet
                        pending = ""
            if "error" in chunk:
                error = chunk["error"].strip()
                log.append(error)
            aux = chunk.get("aux") or {}
            if "ID" in aux:
                image_id = aux["ID"]
    except (docker.errors.APIError, docker.errors.BuildError, requests.exceptions.RequestException) as exc:
        error = str(exc)
        log.append(error)
    ok = not error and bool(image_id)
    if not ok and not error:
        log.append("the engine reported no image id")
    return Built(ok, image_id, round(time.monotonic() - start, 2), steps, cached,
                 "\n".join(log[-TAIL_LINES:]))
