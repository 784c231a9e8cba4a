"""The heat map's server: Python's http.server (no parser of our own), bound
to 127.0.0.1 only, every path under a random token; GET only, and no
request can carry a program: the page only reads /TOKEN/data. The Host
header must name 127.0.0.1 or localhost, so a page of another site that
points a name of its own at 127.0.0.1 (DNS rebinding) is refused too."""
import hmac
import http.server
import json
import secrets
import threading
import urllib.parse

from . import page


class Server:
    def __init__(self, store, port=0):
        self.store = store
        self.token = secrets.token_urlsafe(18)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            server_version = "usdt-heatmap"
            sys_version = ""

            def log_message(self, fmt, *args):
                pass

            def _send(self, code, ctype, body):
                body = body.encode("utf-8") if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                if not ctype.startswith("text/html"):  # the page carries its own, with a nonce
                    self.send_header("Content-Security-Policy", page.CSP)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):
                host = (self.headers.get("Host") or "").lower()
                if host not in ("127.0.0.1:%d" % outer.port, "localhost:%d" % outer.port):
                    return self._send(403, "text/plain", "forbidden: wrong Host\n")
                path = urllib.parse.urlsplit(self.path).path
                parts = path.split("/")
                given = parts[1] if len(parts) > 1 else ""
                if not hmac.compare_digest(given.encode(), outer.token.encode()):
                    return self._send(403, "text/plain", "forbidden: token missing or wrong\n")
                rest = "/".join(parts[2:])
                if rest == "":
                    return self._send(200, "text/html; charset=utf-8", page.render(outer.store.data(), live=True))
                if rest == "data":
                    return self._send(200, "application/json", json.dumps(outer.store.data()))
                return self._send(404, "text/plain", "not found\n")

            do_HEAD = do_GET

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/%s/" % (self.port, self.token)
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
