"""An engine that fails on cue: a TCP proxy on loopback in front of the real engine's socket.

Each request is forwarded unless it matches a rule, which answers it in its place: "close" (the
connection drops, as when dockerd dies), "garbage" (a reply that is not HTTP), or a canned HTTP
status with a JSON message. Forwarded requests carry `Connection: close`, so that every request
comes back through the rules on a connection of its own.
"""

import json
import re
import socket
import threading

REAL_SOCKET = "/var/run/docker.sock"


class FaultyEngine:
    def __init__(self, rules, real_socket=REAL_SOCKET):
        """rules: [(regex on 'METHOD /path', action)], action "close" | "garbage" | (status, message)."""
        self.rules = [(re.compile(pattern), action) for pattern, action in rules]
        self.real_socket = real_socket
        self.seen = []
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(32)
        self.url = f"tcp://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._stop = True
        self._server.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            header, rest = head.split(b"\r\n\r\n", 1)
            lines = header.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            self.seen.append(f"{method} {path}")
            for pattern, action in self.rules:
                if pattern.search(f"{method} {path}"):
                    return self._answer(conn, action)
            kept = [line for line in lines[1:] if not line.lower().startswith("connection:")]
            request = "\r\n".join([lines[0], *kept, "Connection: close"]).encode("latin-1") + b"\r\n\r\n" + rest
            with socket.socket(socket.AF_UNIX) as upstream:
                upstream.connect(self.real_socket)
                upstream.sendall(request)
                threading.Thread(target=_pipe, args=(conn, upstream), daemon=True).start()
                _pipe(upstream, conn)

    @staticmethod
    def _answer(conn, action):
        if action == "close":
            return
        if action == "garbage":
            conn.sendall(b"\x00\x17not an HTTP reply\r\n\r\n")
            return
        status, message = action
        body = json.dumps({"message": message}).encode()
        conn.sendall(f"HTTP/1.1 {status} Fault\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + body)


def _pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
