'use strict';
// Serves the request's own facts (app.json) as a page; every value is escaped as literal text.
const fs = require('fs');
const http = require('http');

const port = Number.parseInt(process.env.PORT || '3000', 10);
const facts = JSON.parse(fs.readFileSync(process.env.APP_FACTS, 'utf8'));
const codes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => codes[c]);
const rows = Object.entries(facts)
  .map(([label, value]) => `<dt>${esc(label)}</dt><dd>${esc(value)}</dd>`)
  .join('\n');
const page = `<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<title>Layanan hosting</title>
</head>
<body>
<h1>Layanan hosting Diskominfotik Provinsi Sumatera Barat</h1>
<dl>
${rows}
</dl>
<p>Stack: nodejs</p>
</body>
</html>
`;

http
  .createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page);
  })
  .listen(port, '127.0.0.1');
