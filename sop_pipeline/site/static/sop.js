// The static site's one script: WebAuthn enrolment and signing that produce OpenSSH keys and
// SSHSIG signatures (PROTOCOL.sshsig, PROTOCOL.u2f; ssh-ecdsa-sk.c webauthn form).
// No libraries, no network: every value the pages need is in their <script
// type="application/json" id="sop-data"> element, written (escaped) by `sop site build`.
"use strict";

const SOP = (() => {
  const enc = new TextEncoder();

  // ---- bytes and the SSH wire format
  function concat(...parts) {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  function u32(n) {
    return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  }
  function sshString(value) {
    const bytes = typeof value === "string" ? enc.encode(value) : value;
    return concat(u32(bytes.length), bytes);
  }
  function mpint(unsigned) {
    let i = 0;
    while (i < unsigned.length && unsigned[i] === 0) i++;
    let body = unsigned.slice(i);
    if (body.length && body[0] & 0x80) body = concat(new Uint8Array([0]), body);
    return sshString(body);
  }
  function b64(bytes) {
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  }
  function b64url(bytes) {
    return b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function unb64(text) {
    const plain = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = plain + "===".slice((plain.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }
  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  async function digest(name, bytes) {
    return new Uint8Array(await crypto.subtle.digest(name, bytes));
  }
  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  // ---- canonical JSON exactly as sop_pipeline.signing.statement.canonical (Python's
  // json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)): keys sorted by
  // code point, strings escaped as Python escapes them.
  function pyString(s) {
    let out = '"';
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (ch === '"') out += '\\"';
      else if (ch === "\\") out += "\\\\";
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else if (ch === "\b") out += "\\b";
      else if (ch === "\f") out += "\\f";
      else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
      else out += ch;
    }
    return out + '"';
  }
  function byCodePoint(a, b) {
    const x = Array.from(a, (c) => c.codePointAt(0));
    const y = Array.from(b, (c) => c.codePointAt(0));
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  }
  function canonical(value) {
    if (typeof value === "string") return pyString(value);
    if (Number.isInteger(value)) return String(value);
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value && typeof value === "object") {
      const keys = Object.keys(value).sort(byCodePoint);
      return "{" + keys.map((k) => pyString(k) + ":" + canonical(value[k])).join(",") + "}";
    }
    throw new Error("nilai tidak dapat dikanonisasi: " + String(value));
  }

  // ---- SSHSIG
  const MAGIC = enc.encode("SSHSIG");
  const HASH = "sha512";
  const SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com";
  const WEBAUTHN_SIG = "webauthn-sk-ecdsa-sha2-nistp256@openssh.com";

  async function signedData(namespace, message) {
    const h = await digest("SHA-512", message);
    return concat(MAGIC, sshString(namespace), sshString(""), sshString(HASH), sshString(h));
  }
  function armor(blob) {
    const text = b64(blob);
    const lines = [];
    for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
    return "-----BEGIN SSH SIGNATURE-----\n" + lines.join("\n") + "\n-----END SSH SIGNATURE-----\n";
  }
  function skEcdsaKeyBlob(point, application) {
    return concat(sshString(SK_ECDSA), sshString("nistp256"), sshString(point), sshString(application));
  }

  // An ASN.1 DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) as (r, s) bytes.
  function derSignature(der) {
    let at = 0;
    const take = (tag) => {
      if (der[at++] !== tag) throw new Error("tanda tangan DER tidak sah");
      let len = der[at++];
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = (len << 8) | der[at++];
      }
      const body = der.slice(at, at + len);
      at += len;
      return body;
    };
    const seq = take(0x30);
    if (at !== der.length) throw new Error("tanda tangan DER tidak sah");
    der = seq;
    at = 0;
    const r = take(0x02);
    const s = take(0x02);
    if (at !== der.length) throw new Error("tanda tangan DER tidak sah");
    return [r, s];
  }

  // The SSHSIG of a WebAuthn assertion, in the form ssh-ecdsa-sk.c verifies.
  function webauthnSshsig({ keyBlob, namespace, authenticatorData, clientDataJSON, derSig }) {
    const ad = authenticatorData;
    const flags = ad[32];
    const counter = ad.slice(33, 37);
    const extensions = flags & 0x80 ? ad.slice(37) : new Uint8Array(0);
    const origin = JSON.parse(new TextDecoder().decode(clientDataJSON)).origin;
    const [r, s] = derSignature(derSig);
    const signature = concat(
      sshString(WEBAUTHN_SIG),
      sshString(concat(mpint(r), mpint(s))),
      new Uint8Array([flags]),
      counter,
      sshString(origin),
      sshString(clientDataJSON),
      sshString(extensions),
    );
    return armor(
      concat(MAGIC, u32(1), sshString(keyBlob), sshString(namespace), sshString(""), sshString(HASH), sshString(signature)),
    );
  }

  // ---- page helpers
  function data() {
    return JSON.parse(document.getElementById("sop-data").textContent);
  }
  function say(id, text, kind) {
    const el = document.getElementById(id);
    el.textContent = text;
    el.className = "message " + (kind || "");
  }
  function offer(link, name, text) {
    link.href = URL.createObjectURL(new Blob([text], { type: "application/octet-stream" }));
    link.download = name;
    link.hidden = false;
  }
  function utc(date) {
    return date.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  // ---- enrolment: a WebAuthn credential becomes an allowed_signers line
  async function enrol(event) {
    event.preventDefault();
    const d = data();
    const form = event.target;
    const principal = form.principal.value.trim();
    const role = form.role.value;
    const validBefore = form.valid_before.value.trim();
    if (!/^[^\s,*?!"]+@[^\s,*?!"]+$/.test(principal)) {
      say("enrol-message", "Principal harus satu alamat e-mail tanpa spasi atau pola.", "error");
      return;
    }
    if (!/^\d{8}Z$/.test(validBefore)) {
      say("enrol-message", "Berlaku sampai harus berbentuk YYYYMMDDZ.", "error");
      return;
    }
    say("enrol-message", "Sentuh kunci keamanan Anda...", "");
    let credential;
    try {
      credential = await navigator.credentials.create({
        publicKey: {
          rp: { id: d.rp_id, name: d.rp_name },
          user: { id: await digest("SHA-256", enc.encode(principal)), name: principal, displayName: principal },
          challenge: crypto.getRandomValues(new Uint8Array(32)),
          pubKeyCredParams: [{ type: "public-key", alg: -7 }],
          authenticatorSelection: { userVerification: "required", residentKey: "preferred" },
          attestation: "none",
          timeout: 120000,
        },
      });
    } catch (err) {
      say("enrol-message", "Pendaftaran gagal atau dibatalkan: " + err.name, "error");
      return;
    }
    if (credential.response.getPublicKeyAlgorithm() !== -7) {
      say("enrol-message", "Kunci ini tidak memakai ES256 (P-256); pakai kunci lain.", "error");
      return;
    }
    const spki = new Uint8Array(credential.response.getPublicKey());
    const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    const point = new Uint8Array(await crypto.subtle.exportKey("raw", key));
    const blob = skEcdsaKeyBlob(point, d.rp_id);
    const credentialId = b64url(new Uint8Array(credential.rawId));
    const line =
      `${principal} namespaces="${d.namespaces[role]}",valid-before="${validBefore}" ` +
      `${SK_ECDSA} ${b64(blob)} webauthn:${credentialId}`;
    document.getElementById("key-line").textContent = line;
    const nip = form.nip.value.replace(/\D/g, "");
    document.getElementById("roles-snippet").textContent =
      `# approvers/roles.toml: tambahkan ${principal} ke [roles] ${role}\n` +
      `[people."${principal}"]\nname = "${form.display_name.value.replace(/["\\\n]/g, "")}"\nnip = "${nip}"\n`;
    document.getElementById("enrol-result").hidden = false;
    say("enrol-message", "Kunci terdaftar di perangkat. Kirim baris di bawah ke engineer (MR approvers/).", "ok");
  }

  // ---- signing: the statement `sop sign` writes, signed by the authenticator
  let shown = null; // {bytes, text, name}: the statement as displayed

  function statementObject(d, form, now) {
    const decision = form.decision.value;
    const reason = form.reason ? form.reason.value.trim() : "";
    const missing =
      decision === "incomplete" && form.missing
        ? form.missing.value.split("\n").map((x) => x.trim()).filter((x) => x)
        : [];
    const signer = form.signer.value;
    const expires = new Date(now.getTime() + d.valid_days * 86400000);
    const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
    const statement = Object.assign({}, d.statement, {
      decision,
      reason,
      missing,
      signer,
      signed_at: utc(now),
      expires_at: utc(expires),
      nonce,
    });
    if (!statement.record_head) delete statement.record_head;
    return statement;
  }

  function prepare(event) {
    event.preventDefault();
    const d = data();
    const form = document.getElementById("sign-form");
    if (!form.signer.value) {
      say("sign-message", "Tidak ada kunci WebAuthn terdaftar untuk peran ini.", "error");
      return;
    }
    const decision = form.decision.value;
    if ((decision === "reject" || decision === "incomplete") && !form.reason.value.trim()) {
      say("sign-message", "Alasan wajib diisi untuk penolakan atau pengembalian.", "error");
      return;
    }
    if (decision === "incomplete" && !form.missing.value.trim()) {
      say("sign-message", "Daftar kekurangan wajib diisi bila tidak lengkap.", "error");
      return;
    }
    const text = canonical(statementObject(d, form, new Date()));
    shown = { bytes: enc.encode(text), text };
    document.getElementById("statement").textContent = text;
    document.getElementById("statement-box").hidden = false;
    document.getElementById("sign-button").disabled = false;
    say("sign-message", "Periksa pernyataan di bawah, lalu tekan Tanda tangani.", "");
  }

  async function sign() {
    const d = data();
    const form = document.getElementById("sign-form");
    const displayed = document.getElementById("statement").textContent;
    if (!shown || displayed !== shown.text) {
      // what the official saw is not what would be signed: refuse, sign nothing
      shown = null;
      document.getElementById("sign-button").disabled = true;
      say("sign-message", "Pernyataan di halaman berubah setelah ditampilkan; tidak ditandatangani. Muat ulang halaman. [statement-changed]", "error");
      return;
    }
    const signer = d.signers.find((s) => s.principal === form.signer.value);
    const challenge = await signedData(d.namespace, shown.bytes);
    say("sign-message", "Sentuh kunci keamanan Anda...", "");
    let assertion;
    try {
      assertion = await navigator.credentials.get({
        publicKey: {
          rpId: d.rp_id,
          challenge,
          allowCredentials: signer.credential_id ? [{ type: "public-key", id: unb64(signer.credential_id) }] : [],
          // PIN or biometrics where the keyring requires the UV flag for the role
          userVerification: d.require_uv ? "required" : "preferred",
          timeout: 120000,
        },
      });
    } catch (err) {
      say("sign-message", "Penandatanganan gagal atau dibatalkan: " + err.name, "error");
      return;
    }
    const r = assertion.response;
    const authenticatorData = new Uint8Array(r.authenticatorData);
    if (!equal(authenticatorData.slice(0, 32), await digest("SHA-256", enc.encode(d.rp_id)))) {
      say("sign-message", "Kunci menjawab untuk RP ID lain; tidak dipakai. [rp-id]", "error");
      return;
    }
    const armored = webauthnSshsig({
      keyBlob: unb64(signer.key_blob),
      namespace: d.namespace,
      authenticatorData,
      clientDataJSON: new Uint8Array(r.clientDataJSON),
      derSig: new Uint8Array(r.signature),
    });
    document.getElementById("signature").textContent = armored;
    offer(document.getElementById("download-statement"), d.file_name, shown.bytes);
    offer(document.getElementById("download-signature"), d.file_name + ".sig", armored);
    document.getElementById("result").hidden = false;
    say("sign-message", "Ditandatangani. Unduh kedua berkas dan unggah ke merge request.", "ok");
  }

  function start() {
    const enrolForm = document.getElementById("enrol-form");
    if (enrolForm) enrolForm.addEventListener("submit", enrol);
    const signForm = document.getElementById("sign-form");
    if (signForm) {
      signForm.addEventListener("submit", prepare);
      document.getElementById("sign-button").addEventListener("click", sign);
      for (const el of signForm.elements) el.addEventListener("change", () => {
        shown = null;
        document.getElementById("sign-button").disabled = true;
      });
    }
    document.documentElement.dataset.ready = "1";
  }
  document.addEventListener("DOMContentLoaded", start);
  return { canonical, signedData, webauthnSshsig, skEcdsaKeyBlob, derSignature, mpint };
})();
