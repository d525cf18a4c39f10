"""Run one selection on several engines in parallel: remote hosts (ssh://, tcp://) and guests.

Endpoints (engines.endpoints) say where each engine comes from: a remote URL, or a qemu guest in
guests.matrix. The session never learns which kind it talks to.

Every host ends with a result: its session's record, or an error. A host that fails, whatever the
exception, still gets a record (see Session.fail): one `error` entry for each target it did not
finish, so that `compare --by host` shows the host and why. A host whose session could not even be
made (connect failed) gets a record of its own, made by calling the factory with no client.
"""

import threading

from reprolab.engines import engine
from reprolab.runs import session
from reprolab.engines.endpoints import Remote
from reprolab.common.errors import Interrupted, LabError


def run_on_hosts(endpoints, make_session, progress, connect=engine.connect, on_abort=lambda: None):
    """{name: (session or None, record or None, error text)}; each endpoint writes its own record.

    `endpoints` are URLs or endpoint objects. make_session(client, progress, facts) makes one
    endpoint's session; with client None, a session that only records its failure (never run).
    on_abort is called on an interrupt, before the sessions are aborted (guests stop booting).
    """
    endpoints = [Remote(e, connect) if isinstance(e, str) else e for e in endpoints]
    out, threads = {}, []
    sessions = {}

    def one(ep):
        prefix = lambda msg: progress(f"{_short(ep.name)} {msg}")
        s = None
        try:
            with ep.engine(prefix) as (client, facts):
                s = make_session(client, prefix, facts)
                sessions[ep.name] = s
                rec = s.run()
            out[ep.name] = (s, rec, "")
        except Interrupted:
            out[ep.name] = (s, None, "interrupted")
        except Exception as exc:  # an endpoint's thread must not end silently, whatever went wrong in it
            text = str(exc) if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}"
            prefix(f"error: {text.splitlines()[0] if text else ''}")
            s, rec = _record_failure(s, ep, text, make_session, prefix)
            out[ep.name] = (s, rec, text)

    for ep in endpoints:
        th = threading.Thread(target=one, args=(ep,), daemon=True, name=f"endpoint {ep.name}")
        threads.append(th)
        th.start()
    try:
        with session.interruptible():
            for th in threads:
                while th.is_alive():
                    th.join(0.2)
    except Interrupted:
        on_abort()
        for s in list(sessions.values()):
            s.abort()
        raise
    return out


def _record_failure(s, ep, text, make_session, progress):
    """(session, record) keeping the endpoint's failure; (s, None) when not even that can be written."""
    try:
        if s is None:
            s = make_session(None, progress, ep.facts)
        return s, s.fail(text.split("\n", 1)[0], getattr(ep, "url", "") or ep.name)
    except Exception as exc:  # noqa: BLE001 - the failure is reported either way; the record is a bonus
        progress(f"error: no record of this host's failure ({type(exc).__name__}: {exc})")
        return s, None


def _short(url):
    return url.split("://", 1)[-1][:40]
