"""Loopback HTTP servers answering from a function, for the tests' doubles: raw bytes with any
status and headers (:func:`serve_raw`), or JSON (:func:`serve_json`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (method, path with query, body) -> (status, JSON body, seconds to wait before answering)
Answer = Callable[[str, str, bytes], tuple[int, object, float]]
# (method, path with query, body) -> (status, headers, body bytes)
RawAnswer = Callable[[str, str, bytes], tuple[int, dict[str, str], bytes]]


def serve_json(answer: Answer) -> tuple[ThreadingHTTPServer, str]:
    def raw(method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        code, reply, delay = answer(method, path, body)
        time.sleep(delay)
        return code, {"Content-Type": "application/json"}, json.dumps(reply).encode()

    return serve_raw(raw)


def serve_raw(answer: RawAnswer) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            code, headers, data = answer(self.command, self.path, self.rfile.read(length))
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"
