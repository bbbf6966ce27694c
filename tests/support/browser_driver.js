// Drives Debian's chromium for the site's browser tests, with playwright-core (no browser
// download) and Chromium's virtual WebAuthn authenticator (CDP) as the security key.
// Protocol: one JSON command per line on stdin, one JSON answer per line on stdout
// ({"ok": true, ...} or {"ok": false, "error": "..."}). Started by tests/support/browser.py.
"use strict";
const path = require("path");
const readline = require("readline");

const pw = require(process.env.SOP_PLAYWRIGHT_CORE);
const userDataDir = process.argv[2];
const downloads = process.argv[3];
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let context, page, cdp, authenticatorId;

async function start() {
  // launchPersistentContext passes --user-data-dir=<fresh folder> itself
  context = await pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    acceptDownloads: true,
    viewport: { width: 1200, height: 900 },
  });
  page = context.pages()[0] || (await context.newPage());
  cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const added = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  authenticatorId = added.authenticatorId;
}

async function ready() {
  await page.waitForFunction(() => document.documentElement.dataset.ready === "1");
}

async function message(id) {
  return (await page.locator("#" + id).textContent()) || "";
}

async function save(linkId, name) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#" + linkId)]);
  const target = path.join(downloads, name);
  await download.saveAs(target);
  return target;
}

const commands = {
  async goto({ url }) {
    const response = await page.goto(url);
    return { status: response ? response.status() : 0, title: await page.title() };
  },
  async enrol({ principal, name, nip, role }) {
    await ready();
    await page.fill("#principal", principal);
    await page.fill("#display_name", name || "");
    await page.fill("#nip", nip || "");
    await page.selectOption("#role", role);
    await page.click("#enrol-button");
    await page.waitForFunction(() => /ok|error/.test(document.getElementById("enrol-message").className));
    const result = { message: await message("enrol-message") };
    if (await page.locator("#enrol-result").isVisible()) {
      result.line = await message("key-line");
      result.roles = await message("roles-snippet");
    }
    return result;
  },
  async prepare({ signer, decision, reason, missing }) {
    await ready();
    await page.selectOption("#signer", signer);
    await page.selectOption("#decision", decision);
    if (reason !== undefined) await page.fill("#reason", reason);
    if (missing !== undefined) await page.fill("#missing", missing);
    await page.click("#prepare-button");
    await page.waitForSelector("#statement-box", { state: "visible" });
    return { statement: await message("statement"), message: await message("sign-message") };
  },
  async edit_statement({ text }) {
    await page.evaluate((t) => {
      document.getElementById("statement").textContent = t;
    }, text);
    return {};
  },
  async sign({ name }) {
    await page.click("#sign-button");
    await page.waitForFunction(() => /ok|error/.test(document.getElementById("sign-message").className));
    const result = { message: await message("sign-message") };
    if (await page.locator("#result").isVisible()) {
      result.statement_path = await save("download-statement", name);
      result.signature_path = await save("download-signature", name + ".sig");
      result.signature = await message("signature");
    }
    return result;
  },
  async screenshot({ file }) {
    await page.screenshot({ path: file, fullPage: true });
    return { file };
  },
  async credentials() {
    return await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  },
  async add_credential({ credential }) {
    await cdp.send("WebAuthn.addCredential", { authenticatorId, credential });
    return {};
  },
  async new_authenticator({ hasUserVerification, isUserVerified }) {
    // the old security key is unplugged, a new one (e.g. without PIN/biometrics) plugged in
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
    const added = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "usb",
        hasResidentKey: true,
        hasUserVerification,
        isUserVerified,
        automaticPresenceSimulation: true,
      },
    });
    authenticatorId = added.authenticatorId;
    return { authenticatorId };
  },
  async text({ selector }) {
    return { text: (await page.locator(selector).textContent()) || "" };
  },
  // generic steps (the request form's tests)
  async wait_ready() {
    await ready();
    return {};
  },
  async fill({ selector, value }) {
    await page.fill(selector, value);
    return {};
  },
  async select({ selector, value }) {
    await page.selectOption(selector, value);
    return {};
  },
  async check({ selector }) {
    await page.check(selector);
    return {};
  },
  async click({ selector }) {
    await page.click(selector);
    return {};
  },
  async set_files({ selector, file }) {
    await page.setInputFiles(selector, file);
    return {};
  },
  async wait_selector({ selector }) {
    await page.waitForSelector(selector, { state: "attached" });
    return {};
  },
  async wait_value({ selector }) {
    await page.waitForFunction((s) => document.querySelector(s).value !== "", selector);
    return { value: await page.inputValue(selector) };
  },
  async values({ selector }) {
    return { values: await page.$$eval(selector, (els) => els.map((e) => [e.dataset.path || e.id, e.value])) };
  },
  async state({ selector }) {
    return await page.$eval(selector, (e) => ({ hidden: e.hidden, href: e.getAttribute("href") || "", text: e.textContent }));
  },
  async download({ selector, name }) {
    return { path: await save(selector.replace(/^#/, ""), name) };
  },
  async close() {
    await context.close();
    return {};
  },
};

async function main() {
  await start();
  process.stdout.write(JSON.stringify({ ok: true, started: true, version: context.browser() ? context.browser().version() : "" }) + "\n");
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    let answer;
    try {
      const request = JSON.parse(line);
      answer = Object.assign({ ok: true }, await commands[request.cmd](request));
      if (request.cmd === "close") {
        process.stdout.write(JSON.stringify(answer) + "\n", () => process.exit(0));
        return;
      }
    } catch (err) {
      answer = { ok: false, error: String((err && err.stack) || err) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String((err && err.stack) || err) }) + "\n");
  process.exit(1);
});
