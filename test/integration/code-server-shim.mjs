#!/usr/bin/env node
// A stand-in for the VS Code executable that @vscode/test-electron's runTests() launches, for machines where
// desktop VS Code cannot be downloaded. It takes the same arguments (--extensionDevelopmentPath=…,
// --extensionTestsPath=…, a workspace folder; the rest are desktop-only and ignored), runs the suite in
// code-server's real extension host and exits with the suite's exit code:
//   code-server --vscode-option enable-smoke-test-driver, then Chromium opens the workbench with
//   ?payload=[["extensionDevelopmentPath",…],["extensionTestsPath",…]]; the workbench mirrors the extension
//   host's console to window.codeAutomationLog and reports the result through window.codeAutomationExit.
// Env: AGENT_GATE_TEST_TIMEOUT_MS (default 300000) bounds the whole run; AGENT_GATE_SHIM_VERBOSE=1 shows
// code-server's own log.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { format } from 'node:util';
import { launchBrowser } from '../../scripts/lib/browser.mjs';
import { remoteUri, startCodeServer, workbenchUrl } from '../../scripts/lib/code-server.mjs';
import { isProvisioned } from '../../scripts/lib/provision.mjs';

function parseArgs(argv) {
  const out = { extensionDevelopmentPath: [], extensionTestsPath: undefined, folder: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      out.folder = resolve(a);
      continue;
    }
    const [, key, inline] = m;
    const value = () => inline ?? argv[++i];
    if (key === 'extensionDevelopmentPath') out.extensionDevelopmentPath.push(resolve(value()));
    else if (key === 'extensionTestsPath') out.extensionTestsPath = resolve(value());
    else if (key === 'folder-uri') out.folder = new URL(value()).pathname;
    // Everything else (--no-sandbox, --disable-updates, --user-data-dir=…, --extensions-dir=…) is for Electron
    // or for a desktop profile; code-server gets a fresh profile of its own.
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
if (!args.extensionTestsPath || args.extensionDevelopmentPath.length === 0) {
  console.error('code-server-shim: need --extensionDevelopmentPath=… and --extensionTestsPath=…');
  process.exit(2);
}
if (!isProvisioned()) {
  console.error('code-server-shim: code-server/Chromium are not provisioned; run `npm run provision` first');
  process.exit(2);
}
if (!existsSync(args.extensionTestsPath) && !existsSync(args.extensionTestsPath + '.js')) {
  console.error(`code-server-shim: no test entry at ${args.extensionTestsPath}`);
  process.exit(2);
}

const timeoutMs = Number(process.env.AGENT_GATE_TEST_TIMEOUT_MS ?? 300_000);
let server;
let browser;
let finished = false;
const verbose = !!process.env.AGENT_GATE_SHIM_VERBOSE;
const workbenchLog = [];
const SUITE_TAG = '\u2063AG| ';
async function finish(code, why) {
  if (finished) return;
  finished = true;
  if (why) console.error(`code-server-shim: ${why}`);
  if (code !== 0 && workbenchLog.length) console.error(`code-server-shim: workbench console before the suite ran:\n${workbenchLog.join('\n')}`);
  await browser?.close();
  await server?.stop();
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => void finish(1, `interrupted by ${sig}`));
const timer = setTimeout(() => void finish(1, `no result within ${timeoutMs / 1000} s`), timeoutMs);

try {
  server = await startCodeServer({
    smokeTestDriver: true,
    gallery: false,
    env: { AGENT_GATE_SUITE_LOG_TAG: SUITE_TAG },
    folder: args.folder,
    log: verbose ? (l) => console.error(l) : undefined,
  });
  browser = await launchBrowser();
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  let result;
  const done = new Promise((r) => (result = r));
  // The workbench mirrors its own console too; show the suite's report (lines suite/index.ts tags) and keep
  // the rest for when something goes wrong.
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const text = format(...(Array.isArray(args) ? args : [args]));
    for (const line of text.split('\n')) {
      if (line.startsWith(SUITE_TAG)) process.stdout.write(line.slice(SUITE_TAG.length) + '\n');
      else if (verbose) process.stderr.write(`[workbench ${type}] ${line}\n`);
      else workbenchLog.push(`[workbench ${type}] ${line}`);
    }
  });
  await page.exposeFunction('codeAutomationExit', (code) => result(Number(code)));
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  const payload = [
    ...args.extensionDevelopmentPath.map((p) => ['extensionDevelopmentPath', remoteUri(server, p)]),
    ['extensionTestsPath', remoteUri(server, args.extensionTestsPath)],
  ];
  await page.goto(workbenchUrl(server, { folder: args.folder, payload }), { waitUntil: 'domcontentloaded' });
  const code = await done;
  clearTimeout(timer);
  await finish(code);
} catch (e) {
  clearTimeout(timer);
  await finish(1, e instanceof Error ? (e.stack ?? e.message) : String(e));
}
