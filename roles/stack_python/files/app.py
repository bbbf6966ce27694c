"""Serves the request's own facts (app.json) as a page; every value is escaped as literal text."""

import html
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
with open(os.environ["APP_FACTS"], encoding="utf-8") as fh:
    FACTS = json.load(fh)
ROWS = "\n".join(
    f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in FACTS.items()
)
PAGE = f"""<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<title>Layanan hosting</title>
</head>
<body>
<h1>Layanan hosting Diskominfotik Provinsi Sumatera Barat</h1>
<dl>
{ROWS}
</dl>
<p>Stack: python</p>
</body>
</html>
""".encode()


class Handler(BaseHTTPRequestHandler):
    """Answers every GET with the page."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
