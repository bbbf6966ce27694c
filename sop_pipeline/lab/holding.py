"""The lab's holding host: answers a soft-retired hosting's name with the maintenance page.

An HTTP server (Python's ``http.server``) at 10.99.0.4:80 inside the lab namespace (the
address of ``expiry.holding_addresses.lab`` in inventories/policy.yaml; ``sop lab up`` adds
it to the bridge). Every path of every name gets HTTP 503 with the Indonesian page of
:func:`sop_pipeline.reports.expiry.maintenance_page` for the ``Host`` asked (escaped), and
``Retry-After``. Tests start one on 127.0.0.1 and a free port (``namespace=None``).

``python -m sop_pipeline.lab.holding ADDRESS PORT`` serves in the foreground.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sop_pipeline.errors import AdapterError
from sop_pipeline.lab import netns
from sop_pipeline.reports.expiry import maintenance_page

HOLDING_ADDRESS = netns.HOLDING_ADDRESS
PORT = 80


class HoldingError(AdapterError):
    """The holding host did not start."""


class _Handler(BaseHTTPRequestHandler):
    server_version = "sop-holding"

    def _page(self, body: bool) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        data = maintenance_page(host).encode()
        self.send_response(503)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Retry-After", "86400")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._page(True)

    def do_HEAD(self) -> None:
        self._page(False)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("holding: " + (format % args) + "\n")


def serve(address: str, port: int) -> None:
    ThreadingHTTPServer((address, port), _Handler).serve_forever()


def start(
    state_dir: Path,
    *,
    namespace: str | None = netns.NAMESPACE,
    address: str = HOLDING_ADDRESS,
    port: int = PORT,
) -> int:
    """Serve the page (inside ``namespace``, or on the host when None); return the pid."""
    state_dir.mkdir(parents=True, exist_ok=True)
    pidfile = state_dir / "holding.pid"
    running = netns.pid_alive(pidfile)
    if running is not None:
        return running
    argv = [sys.executable, "-m", "sop_pipeline.lab.holding", address, str(port)]
    pid = netns.spawn(argv, pidfile, state_dir / "holding.log", namespace)
    url = f"http://{address}:{port}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if netns.pid_alive(pidfile) is None:
            raise HoldingError(f"the holding host exited; see {state_dir / 'holding.log'}")
        if namespace is None:
            try:
                urllib.request.urlopen(url, timeout=2)
            except urllib.error.HTTPError as err:
                if err.code == 503:
                    return pid
            except OSError:
                pass
        else:
            code = (
                f"import urllib.request as u\ntry: u.urlopen({url!r}, timeout=2)\n"
                "except Exception as e: raise SystemExit(0 if getattr(e, 'code', 0) == 503 else 1)"
            )
            probe = [sys.executable, "-c", code]
            if netns.run(probe, namespace, timeout=10).returncode == 0:
                return pid
        time.sleep(0.1)
    raise HoldingError(f"the holding host does not answer at {url}")


def stop(state_dir: Path) -> None:
    netns.kill_pidfile(state_dir / "holding.pid")


if __name__ == "__main__":  # pragma: no cover - the daemon's entry
    serve(sys.argv[1], int(sys.argv[2]))
