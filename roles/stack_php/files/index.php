<?php
// The request's own facts, read from app.json and shown as escaped literal text.
declare(strict_types=1);
$facts = json_decode((string) file_get_contents(__DIR__ . '/../app.json'), true, 8, JSON_THROW_ON_ERROR);
$e = static fn ($s): string => htmlspecialchars((string) $s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
header('Content-Type: text/html; charset=utf-8');
?>
<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<title>Layanan hosting</title>
</head>
<body>
<h1>Layanan hosting Diskominfotik Provinsi Sumatera Barat</h1>
<dl>
<?php foreach ($facts as $label => $value): ?>
<dt><?= $e($label) ?></dt><dd><?= $e($value) ?></dd>
<?php endforeach; ?>
</dl>
<p>Stack: php</p>
</body>
</html>
