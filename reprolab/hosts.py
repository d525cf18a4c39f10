"""Run one selection on several engines in parallel (remote hosts over ssh:// or tcp://).

Every host ends with a result: its session's record, or an error. A host that fails, whatever the
exception, still gets a record (see Session.fail): one `error` entry for each target it did not
finish, so that `compare --by host` shows the host and why. A host whose session could not even be
made (connect failed) gets a record of its own, made by calling the factory with no client.
"""

import threading

from reprolab import engine, session
from reprolab.errors import Interrupted, LabError


def run_on_hosts(urls, make_session, progress, connect=engine.connect):
    """{url: (session or None, record or None, error text)}; each host writes its own record.

    make_session(client, progress) makes a host's session; with client None, a session that only
    records the host's failure (it is never run).
    """
    out, threads = {}, []
    sessions = {}

    def one(url):
        prefix = lambda msg: progress(f"{_short(url)} {msg}")
        s = None
        try:
            client = connect(url)
            s = make_session(client, prefix)
            sessions[url] = s
            rec = s.run()
            out[url] = (s, rec, "")
        except Interrupted:
            out[url] = (s, None, "interrupted")
        except Exception as exc:  # a host's thread must not end silently, whatever went wrong in it
            text = str(exc) if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}"
            prefix(f"error: {text}")
            s, rec = _record_failure(s, url, text, make_session, prefix)
            out[url] = (s, rec, text)

    for url in urls:
        th = threading.Thread(target=one, args=(url,), daemon=True)
        threads.append(th)
        th.start()
    try:
        with session.interruptible():
            for th in threads:
                while th.is_alive():
                    th.join(0.2)
    except Interrupted:
        for s in list(sessions.values()):
            s.abort()
        raise
    return out


def _record_failure(s, url, text, make_session, progress):
    """(session, record) keeping the host's failure; (s, None) when not even that can be written."""
    try:
        if s is None:
            s = make_session(None, progress)
        return s, s.fail(text, url)
    except Exception as exc:  # noqa: BLE001 - the failure is reported either way; the record is a bonus
        progress(f"error: no record of this host's failure ({type(exc).__name__}: {exc})")
        return s, None


def _short(url):
    return url.split("://", 1)[-1][:40]
