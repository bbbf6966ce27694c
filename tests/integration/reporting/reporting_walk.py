"""Walking requests through the SOP for the reporting tests, as the demo does.

Officials sign with real keys (ssh-keygen), the real :class:`Pipeline` records every step on a
simulated clock (a working Monday, 30 November 2026, WIB), and step 8 is done by
:class:`LocalSite`: a real HTTP server process on 127.0.0.1 that serves the request's page,
fetched by the request's name before the hosting is reported. It stands in for the VM (there
is none): the VMID it reports is the server's process id and the node is this machine.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner, Result

from sop_pipeline.cli.main import main
from sop_pipeline.cli.report import report
from sop_pipeline.config import TrustedConfig
from sop_pipeline.demo.officials import Lab, RequestFlow
from sop_pipeline.domain.placement import Demand
from sop_pipeline.loader import LoadedRequest
from sop_pipeline.reports.model import CHECK_HTTP, Check, HostingResult
from sop_pipeline.steps.pipeline import Pipeline
from sop_pipeline.workspace import Workspace

# The reports' tests already say how to find their tools: one place for both folders.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from report_tools import require, require_weasyprint  # noqa: F401 (conftest imports it here)

WIB = ZoneInfo("Asia/Jakarta")
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=WIB)
ZONE = "sumbarprov.go.id"

if "report" not in main.commands:  # until the cli registers it: the same object either way
    main.add_command(report)


def at(minutes: int) -> datetime:
    return MONDAY + timedelta(minutes=minutes)


def sop(repo: Path, *args: str) -> Result:
    """The real `sop` command on the lab repository."""
    return CliRunner().invoke(main, ["--repo", str(repo), *args])


def pdf_text(pdf: Path) -> str:
    """The PDF's text, words joined across line breaks (pdftotext)."""
    done = subprocess.run([require("pdftotext"), str(pdf), "-"], capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())


def pdf_pages(pdf: Path, out_dir: Path, dpi: int = 60) -> list[Path]:
    """The PDF's pages as PNG files (pdftoppm)."""
    prefix = out_dir / pdf.stem
    subprocess.run([require("pdftoppm"), "-png", "-r", str(dpi), str(pdf), str(prefix)], check=True)
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"))


class Clock:
    """The simulated clock the pipeline reads; the scenario moves it."""

    def __init__(self) -> None:
        self.minutes = 0

    def __call__(self) -> datetime:
        return at(self.minutes)


class LocalSite:
    """Step 8 for the tests: a real web server on loopback serving the request's page.

    ``provision`` writes the page, fetches it through the request's name (HTTP ``Host``
    header), and reports what it saw. Nothing else is claimed: one check, the HTTP one.
    """

    def __init__(self, root: Path, clock: Callable[[], datetime]) -> None:
        self.root = root
        self.clock = clock
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (...)"
        self.port = int(line.split(" port ")[1].split()[0])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def provision(
        self,
        request: LoadedRequest,
        *,
        log: Callable[[str], None],
        pending: Sequence[Demand] = (),  # no cluster here: the limits are step 8's tests'
        override: str = "",
        applied: object = None,  # a change's last applied facts: no limits here either
    ) -> HostingResult:
        started = self.clock()
        fqdn = f"{request.request.hostname}.{ZONE}"
        name = request.request.application.name
        (self.root / "index.html").write_text(f"<h1>{name}</h1>\n", encoding="utf-8")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", "/", headers={"Host": fqdn})
            answer = connection.getresponse()
            body = answer.read().decode()
        finally:
            connection.close()
        ok = answer.status == 200 and name in body
        url = f"http://127.0.0.1:{self.port}/"
        log(f"{request.request_id}: situs menjawab HTTP {answer.status} di {url}")
        return HostingResult(
            vmid=self.process.pid,
            node=socket.gethostname(),
            ip_address="127.0.0.1",
            fqdn=fqdn,
            stack=request.request.application.stack,
            started=started,
            finished=self.clock(),
            checks=(Check(CHECK_HTTP, ok, f"HTTP {answer.status} dari {url} (Host: {fqdn})"),),
            url=url,
        )


class Walk:
    """Requests walked through the SOP: officials sign, the pipeline records."""

    def __init__(self, lab: Lab, site: LocalSite | None = None) -> None:
        self.lab = lab
        self.clock = Clock()
        self.ws = Workspace(lab.repo)
        # The pipeline reads everything it trusts when it is made; LocalSite needs no tree.
        with TrustedConfig.from_commit(lab.repo, "main") as trusted:
            self.pipeline = Pipeline(
                self.ws, trusted=trusted, now=self.clock, provisioner=site, log=lambda _line: None
            )

    def flow(self, request_id: str) -> RequestFlow:
        return RequestFlow(self.lab, request_id, records=self.ws.records_dir)

    def advance(self, request_id: str, minutes: int) -> list[int]:
        self.clock.minutes = minutes
        return self.pipeline.advance(request_id).recorded

    def sign(
        self,
        request_id: str,
        step: int,
        who: str,
        minutes: int,
        decision: str = "approve",
        **kw: object,
    ) -> list[int]:
        self.flow(request_id).sign(step, who, at(minutes), decision, **kw)
        return self.advance(request_id, minutes)

    def analyse(self, request_id: str, minutes: int) -> dict[str, str]:
        """Step 6's analysis report, recorded as `sop analyze` records it; what Tim Teknis cites."""
        return self.flow(request_id).analyse(at(minutes))

    def to_step_7(self, request_id: str, start: int = 0, *, decision_after: int = 45) -> None:
        """Steps 1-7 signed in turn; step 7 ``decision_after`` minutes after step 6."""
        self.advance(request_id, start)
        self.sign(request_id, 2, "kadis", start + 2)
        self.sign(request_id, 3, "kabid", start + 4)
        self.sign(request_id, 4, "koordinator", start + 6, "complete")
        self.sign(
            request_id, 6, "teknis1", start + 95, evidence=self.analyse(request_id, start + 60)
        )
        self.sign(request_id, 7, "kabid", start + 95 + decision_after)
