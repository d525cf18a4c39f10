"""An engine that stopped answering under a run: wait for it (bounded), then remove the containers
it could not remove while it was away, so the run goes on instead of failing every variant left in
the second the engine was down."""

import time

import docker
import requests

ENGINE_RETURN = 90  # seconds a run waits for an engine that stopped answering (a restart takes a few)


def fresh_ping(client, url):
    """Ping over a new connection: a pooled one may still reach a daemon that is shutting down
    (and answers) while its socket is already gone for everyone else."""
    if not url:
        return client.ping()
    fresh = docker.DockerClient(base_url=url, timeout=5)
    try:
        return fresh.ping()
    finally:
        fresh.close()


def wait_for(ping, wait, stopped, progress):
    """(answered, seconds waited, whether it was away at all): ping until it answers, `wait` s at
    most, giving up early once `stopped()`."""
    start = time.monotonic()
    away = False
    while True:
        try:
            ping()
            return True, round(time.monotonic() - start, 1), away
        except Exception:  # noqa: BLE001 - any failure to answer is the engine being away
            if time.monotonic() - start >= wait or stopped():
                return False, round(time.monotonic() - start, 1), away
            if not away:
                progress(f"the engine does not answer; waiting up to {wait} s for it to return")
                away = True
            time.sleep(1)


def sweep(client, leftovers, away):
    """Remove the containers in `leftovers` (a set, emptied of those gone); after an absence, drop the
    pooled connections first: they lead to the engine that went away."""
    close = getattr(client.api, "close", None)
    if away and close:
        close()
    for cid in list(leftovers):
        try:
            client.api.remove_container(cid, force=True)
            leftovers.discard(cid)
        except docker.errors.NotFound:
            leftovers.discard(cid)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            pass
