"""The one boundary between the engine's failures and the lab's: docker-py, HTTP and socket errors
raised outside a variant become EngineError, naming the stage and what to do next.

Inside a variant an engine failure is that variant's `error` outcome (session.py); everywhere else
(host facts, bases, image copies, builds, clean) it ends the command with one line and exit 2.
"""

import functools
import http.client
from contextlib import contextmanager

import docker
import requests
import urllib3

from reprolab.common.errors import EngineError, LabError

# Everything a dead, restarting or garbled engine makes docker-py raise: its own errors, requests'
# and urllib3's (a stream read directly from the socket), and the socket's. Not all of OSError: a
# stage's own file work (debootstrap's root) must not be reported as the engine's failure.
ENGINE_FAILURES = (docker.errors.DockerException, requests.exceptions.RequestException,
                   urllib3.exceptions.HTTPError, http.client.HTTPException, ConnectionError, TimeoutError)

# the start of a failure's words when the engine went away under a step (a connection refused or
# reset, its socket gone), as opposed to a step that ran out of time: runs.session waits for such an
# engine and makes the step again
ENGINE_AWAY = "the engine stopped answering"

NEXT_STEP = "check the engine with 'docker info' (restart it with 'sudo bash scripts/setup-host.sh') and run again"


def reason(exc):
    """The first line of an engine failure, short enough for one line of output."""
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    return str(text).strip().split("\n")[0][:200]


def timed_out(exc):
    """Whether a request to the engine failed because its time ran out, not because the engine went
    away: the two call for different words."""
    return isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower()


def as_engine_error(exc, stage, where=""):
    at = f" at {where}" if where else ""
    return EngineError(f"the Docker engine{at} failed while {stage} ({reason(exc)}); {NEXT_STEP}")


@contextmanager
def boundary(stage, where=""):
    """Turn an engine failure inside the block into EngineError; the lab's own errors pass through."""
    try:
        yield
    except LabError:
        raise
    except ENGINE_FAILURES as exc:
        raise as_engine_error(exc, stage, where) from None


def stage(name):
    """Decorator form of boundary(name) for a function of a client that is one stage of its own."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(client, *args, **kwargs):
            with boundary(name, url(client)):
                return fn(client, *args, **kwargs)
        return inner
    return wrap


def url(client):
    """Where `client` points, for messages."""
    return getattr(client, "reprolab_url", "") or getattr(getattr(client, "api", None), "base_url", "")
