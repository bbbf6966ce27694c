// The request form (formulir.html): fields from the spec `sop site build` made of the JSON
// Schema (in the page's <script type="application/json" id="sop-data">), checks of what the
// schema says, the letter's SHA-256 by WebCrypto, and YAML that the strict loader reads:
// every string double-quoted and escaped, integers plain, keys in the schema's order.
// No libraries, no network. CI checks the file again (`sop validate`): nothing here is trusted.
"use strict";

const FORM = (() => {
  const d = JSON.parse(document.getElementById("sop-data").textContent);
  const forbidden = new RegExp(d.forbidden, "u");
  const visible = /[\p{L}\p{N}\p{P}\p{S}]/u;
  const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
  let made = null; // the YAML offered for download, or null

  // ---- YAML: double-quoted strings (YAML 1.2 escapes), nothing left to a resolver
  function yamlString(s) {
    let out = '"';
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (ch === '"') out += '\\"';
      else if (ch === "\\") out += "\\\\";
      else if (ch === "\n") out += "\\n";
      else if (ch === "\t") out += "\\t";
      else if (ch === "\r") out += "\\r";
      else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 || c === 0xfeff || (c >= 0xd800 && c <= 0xdfff))
        out += "\\u" + c.toString(16).padStart(4, "0");
      else out += ch;
    }
    return out + '"';
  }
  function yamlValue(f, v) {
    return f.type === "integer" || f.type === "const" ? String(v) : yamlString(v);
  }
  // lines._dash: the "- " lead of a list item's first key
  function emit(spec, value, indent, lines) {
    for (const f of spec) {
      if (!(f.key in value)) continue;
      const v = value[f.key];
      const lead = lines._dash ? lines._dash : indent;
      lines._dash = null;
      if (f.type === "object") {
        lines.push(lead + f.key + ":");
        emit(f.children, v, indent + "  ", lines);
      } else if (f.type === "array") {
        lines.push(lead + f.key + ":");
        for (const item of v) {
          lines._dash = indent + "  - ";
          emit(f.children, item, indent + "    ", lines);
        }
      } else lines.push(lead + f.key + ": " + yamlValue(f, v));
    }
  }
  function toYaml(value) {
    const lines = [];
    lines._dash = null;
    emit(d.spec, value, "", lines);
    return "# Permintaan hosting, ditulis oleh formulir situs SOP; CI memeriksanya lagi (sop validate).\n" + lines.join("\n") + "\n";
  }

  // ---- the fields in the page
  const byKey = (root, f) => root.querySelector(`[data-key="${f.key}"][data-path="${f.path}"]`);
  function idOf(path) {
    return "f-" + path.replace(/\[\]\./g, "-").replace(/\./g, "-");
  }
  function addItem(f, value) {
    const box = document.querySelector(`[data-items="${f.path}"]`);
    const tpl = document.querySelector(`template[data-template="${f.path}"]`);
    const node = tpl.content.firstElementChild.cloneNode(true);
    box.appendChild(node);
    node.querySelector("[data-remove]").addEventListener("click", () => {
      node.remove();
      changed();
    });
    for (const el of node.querySelectorAll("input,select,textarea")) el.addEventListener("input", changed);
    if (value) fill(f.children, value, node);
    changed();
  }
  function fill(spec, value, root) {
    for (const f of spec) {
      if (!value || !(f.key in value)) continue;
      const v = value[f.key];
      if (f.type === "object") {
        const toggle = document.querySelector(`[data-toggle="${f.path}"]`);
        if (toggle) {
          toggle.checked = true;
          document.querySelector(`[data-group="${f.path}"]`).hidden = false;
        }
        fill(f.children, v, root);
      } else if (f.type === "array") {
        for (const item of v) addItem(f, item);
      } else if (f.type !== "const") {
        const el = byKey(root, f);
        if (el) el.value = String(v);
      }
    }
  }

  // ---- reading and checking
  function chars(s) {
    return Array.from(s).length;
  }
  function check(f, raw, where, errors) {
    const say = (text) => errors.push({ path: where, text: `${f.label}: ${text}` });
    const v = raw.trim();
    if (v === "") {
      if (f.required) say("wajib diisi.");
      return undefined;
    }
    const hidden = v.match(forbidden);
    if (hidden) {
      const code = hidden[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
      say(`memuat karakter tersembunyi atau kontrol (U+${code}); hapus lalu ketik ulang.`);
      return undefined;
    }
    if (f.type === "enum") {
      if (!f.options.some((o) => o[0] === v)) say("pilih salah satu pilihan.");
      return v;
    }
    if (f.type === "integer") {
      if (!/^-?(0|[1-9][0-9]*)$/.test(v)) {
        say("harus bilangan bulat (angka saja, tanpa titik, koma atau satuan).");
        return undefined;
      }
      const n = Number(v);
      if (f.minimum !== undefined && n < f.minimum) say(`paling kecil ${f.minimum}.`);
      if (f.maximum !== undefined && n > f.maximum) say(`paling besar ${f.maximum}.`);
      return n;
    }
    if (f.required && !visible.test(v)) say("wajib diisi dengan huruf atau angka yang terlihat.");
    if (f.min_length !== undefined && chars(v) < f.min_length) say(`paling sedikit ${f.min_length} karakter.`);
    if (f.max_length !== undefined && chars(v) > f.max_length) say(`paling banyak ${f.max_length} karakter.`);
    if (f.pattern && !new RegExp(f.pattern, "u").test(v)) say(`bentuknya tidak sesuai. ${f.help}`);
    return v;
  }
  function read(spec, root, prefix, errors) {
    const out = {};
    for (const f of spec) {
      const where = prefix + f.key;
      if (f.type === "const") out[f.key] = f.const;
      else if (f.type === "object") {
        const toggle = document.querySelector(`[data-toggle="${f.path}"]`);
        if (toggle && !toggle.checked) continue;
        out[f.key] = read(f.children, root, where + ".", errors);
      } else if (f.type === "array") {
        const items = Array.from(document.querySelectorAll(`[data-items="${f.path}"] > .item`));
        if (!items.length) {
          if (f.required) errors.push({ path: where, text: `${f.label}: wajib diisi.` });
          continue;
        }
        if (items.length < f.min_items) errors.push({ path: where, text: `${f.label}: paling sedikit ${f.min_items}.` });
        if (items.length > f.max_items) errors.push({ path: where, text: `${f.label}: paling banyak ${f.max_items}.` });
        out[f.key] = items.map((node, i) => read(f.children, node, `${where}.${i}.`, errors));
      } else {
        const el = byKey(root, f);
        const v = check(f, el ? el.value : "", where, errors);
        if (v !== undefined) out[f.key] = v;
      }
    }
    return out;
  }
  function requestId(errors) {
    const el = document.getElementById("request-id");
    const v = el.value.trim();
    const say = (text) => errors.push({ path: "(id)", text: "ID permintaan: " + text });
    if (!v) say("wajib diisi.");
    else if (!LABEL.test(v)) say("huruf kecil a-z, angka 0-9 dan tanda hubung (tidak di awal/akhir), maks 63.");
    else if (v.slice(2, 4) === "--") say("tanda '--' di posisi 3-4 tidak diizinkan.");
    else if (d.taken_ids.includes(v)) say(`sudah dipakai permintaan lain (requests/${v}.yaml).`);
    return v;
  }
  function show(errors) {
    for (const el of document.querySelectorAll("[data-error]")) el.textContent = "";
    const list = document.getElementById("form-errors");
    list.textContent = "";
    for (const e of errors) {
      const li = document.createElement("div");
      li.textContent = e.text;
      list.appendChild(li);
      const field = e.path.replace(/\.\d+\./g, "[].");
      const near = document.querySelector(`[data-error="${field}"]`) || document.querySelector(`[data-error="${e.path}"]`);
      if (near) near.textContent = (near.textContent ? near.textContent + " " : "") + e.text;
    }
  }

  // ---- the letter's PDF
  async function pickPdf(event) {
    const sha = document.getElementById(idOf("letter.sha256"));
    sha.value = "";
    changed();
    delete event.target.dataset.checked;
    const file = event.target.files[0];
    if (!file) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    const head = new TextDecoder().decode(bytes.slice(0, 5));
    if (head !== "%PDF-") {
      show([{ path: "letter.sha256", text: "Surat: berkas ini bukan PDF (tidak diawali %PDF-); pilih PDF surat." }]);
      event.target.dataset.checked = "1";
      return;
    }
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    sha.value = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    say("SHA-256 PDF dihitung: " + sha.value, "");
    event.target.dataset.checked = "1";
  }

  function say(text, kind) {
    const el = document.getElementById("form-message");
    el.textContent = text;
    el.className = "message " + (kind || "");
  }
  function changed() {
    made = null;
    const link = document.getElementById("download-yaml");
    link.hidden = true;
    link.removeAttribute("href");
    document.getElementById("form-result").hidden = true;
  }
  function offer(id, href) {
    const a = document.getElementById(id);
    a.href = href;
    a.hidden = false;
  }

  function make(event) {
    event.preventDefault();
    changed();
    const errors = [];
    const rid = requestId(errors);
    const value = read(d.spec, document.getElementById("request-form"), "", errors);
    const host = value.hostname;
    if (host && d.taken_hostnames[host]) errors.push({ path: "hostname", text: `Nama situs: sudah dipakai ${d.taken_hostnames[host]}.` });
    show(errors);
    if (errors.length) {
      say(`Ada ${errors.length} isian yang perlu diperbaiki; berkas belum dibuat.`, "error");
      return;
    }
    made = toYaml(value);
    document.getElementById("yaml").textContent = made;
    const link = document.getElementById("download-yaml");
    link.href = URL.createObjectURL(new Blob([made], { type: "application/octet-stream" }));
    link.download = rid + ".yaml";
    link.hidden = false;
    document.getElementById("pdf-target").textContent = "requests/" + value.letter.file;
    const L = d.links;
    if (L.new_file) {
      const branch = d.branch.replace("{request_id}", rid);
      if (d.mode === "baru")
        offer("gitlab-new-file", `${L.new_file}?file_name=${encodeURIComponent(rid + ".yaml")}&content=${encodeURIComponent(made)}`);
      else {
        offer("gitlab-new-file", L.edit_file + encodeURIComponent(rid) + ".yaml");
        document.getElementById("gitlab-new-file").textContent = "Ubah berkas di GitLab (tempel isi YAML)";
      }
      offer(
        "gitlab-new-mr",
        `${L.new_mr}?${encodeURIComponent("merge_request[source_branch]")}=${encodeURIComponent(branch)}` +
          `&${encodeURIComponent("merge_request[target_branch]")}=${encodeURIComponent(L.target_branch)}` +
          `&${encodeURIComponent("merge_request[title]")}=${encodeURIComponent("Permintaan hosting " + rid)}`,
      );
    }
    document.getElementById("form-result").hidden = false;
    say("Berkas siap. Unduh, lalu ajukan lewat merge request bersama PDF suratnya.", "ok");
  }

  function start() {
    const form = document.getElementById("request-form");
    const rid = document.getElementById("request-id");
    if (d.mode === "ubah") {
      rid.value = d.request_id;
      rid.readOnly = true;
    }
    for (const f of d.spec) if (f.type === "array") document.querySelector(`[data-add="${f.path}"]`).addEventListener("click", () => addItem(f));
    for (const t of document.querySelectorAll("[data-toggle]"))
      t.addEventListener("change", () => {
        document.querySelector(`[data-group="${t.dataset.toggle}"]`).hidden = !t.checked;
        changed();
      });
    fill(d.spec, d.prefill, form);
    const file = document.getElementById(idOf("letter.file"));
    let fileEdited = d.mode === "ubah";
    file.addEventListener("input", () => (fileEdited = true));
    rid.addEventListener("input", () => {
      if (!fileEdited) file.value = rid.value.trim() ? rid.value.trim() + "/surat-permintaan.pdf" : "";
    });
    document.getElementById("letter-pdf").addEventListener("change", pickPdf);
    form.addEventListener("input", changed);
    form.addEventListener("submit", make);
    document.documentElement.dataset.ready = "1";
  }
  document.addEventListener("DOMContentLoaded", start);
  return { yamlString, toYaml };
})();
