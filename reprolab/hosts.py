"""Run one selection on several engines in parallel (remote hosts over ssh:// or tcp://)."""

import threading

from reprolab import engine, session
from reprolab.errors import Interrupted, LabError


def run_on_hosts(urls, make_session, progress):
    """{url: (session or None, record or None, error text)}; each host writes its own record."""
    out, threads = {}, []
    sessions = {}

    def one(url):
        prefix = lambda msg: progress(f"{_short(url)} {msg}")
        try:
            client = engine.connect(url)
            s = make_session(client, prefix)
            sessions[url] = s
            rec = s.run()
            out[url] = (s, rec, "")
        except Interrupted:
            out[url] = (sessions.get(url), None, "interrupted")
        except LabError as exc:
            out[url] = (sessions.get(url), None, str(exc))

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


def _short(url):
    return url.split("://", 1)[-1][:40]
