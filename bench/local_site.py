"""A local HTTP site for the browser benches: the pages a function of the path gives."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable


def serve_pages(page_for: Callable[[str], bytes]) -> tuple[http.server.ThreadingHTTPServer, int]:
    """Serve ``page_for(path)`` as HTML on 127.0.0.1 (a free port) from a daemon thread."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = page_for(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])
