"""Step 8's last check, against a real HTTPS server on loopback: the site must answer under
its name, with a certificate for that name from the pinned CA, and show the request's page.

The whole sequence runs in tests/e2e/test_demo.py and tests/integration/ci; these are the
ways the check must fail, each with its own message, never reported as success.
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop_pipeline.errors import AdapterError
from sop_pipeline.steps.provisioning import PHASES, ProvisionError, fetch_https

pytestmark = pytest.mark.integration

NAME = "simpus.sumbarprov.go.id"
PAGE = b"<html><title>dinkes-simpus</title><body>Stack: php</body></html>"


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.headers.get("Host") == NAME else 404)
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: apt-get install openssl")
    folder = tmp_path_factory.mktemp("site")
    key, cert = certificate(folder, NAME)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], cert
    server.shutdown()


def test_the_site_answers_under_its_name_with_its_page(site: tuple[int, Path]) -> None:
    port, cert = site
    answer = fetch_https(NAME, "127.0.0.1", cert.read_text(), timeout=10, port=port)
    assert answer.status == 200
    assert "dinkes-simpus" in answer.body


def test_a_certificate_from_another_ca_is_refused(site: tuple[int, Path], tmp_path: Path) -> None:
    port, _ = site
    _, other = certificate(tmp_path, NAME)
    with pytest.raises(AdapterError, match="tidak menjawab"):
        fetch_https(NAME, "127.0.0.1", other.read_text(), timeout=10, port=port)


def test_a_certificate_for_another_name_is_refused(site: tuple[int, Path]) -> None:
    port, cert = site
    with pytest.raises(AdapterError, match="tidak menjawab"):
        fetch_https("lain.sumbarprov.go.id", "127.0.0.1", cert.read_text(), timeout=10, port=port)


def test_nothing_listening_is_its_own_error(site: tuple[int, Path]) -> None:
    _, cert = site
    with pytest.raises(AdapterError, match="tidak menjawab"):
        fetch_https(NAME, "127.0.0.1", cert.read_text(), timeout=5, port=1)


def test_a_failed_phase_says_what_is_left_and_how_to_continue() -> None:
    for phase in PHASES:
        err = ProvisionError("dinkes-simpus", phase, "sebabnya")
        text = err.diagnostics()
        assert "sebabnya" in text and "Keadaan:" in text
        assert "sop provision" in text or "Belum ada yang dibuat" in text
        assert "Langkah 8 belum dicatat; persetujuan belum terpakai." in text
        assert err.exit_code == 4
