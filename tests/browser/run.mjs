// The browser test suite's driver: sockjs-client in a real Chromium (Debian's
// /usr/bin/chromium, never a downloaded browser) against the built examples, so what
// the Rust tests check on the wire is also checked where it matters, in a browser:
// every sockjs-client transport cross-origin (CORS with credentials, the iframe
// bridge), unicode, big messages, close codes, broadcast, the JSESSIONID cookie, and
// the chat demo with two pages, channel multiplexing with the websocket-multiplex
// client (test_server's /multiplex and the multiplex demo page), and the origin
// allowlist (a second test_server with --allowed-origins; origins-test.mjs), and a
// graceful shutdown seen from every transport (a third test_server; shutdown-test.mjs).
//
// Started by scripts/test-browser, which installs the npm packages and builds the
// examples first. It starts, all on 127.0.0.1: a static server for the test page and
// sockjs-client (servers.mjs), target/debug/examples/test_server with --sockjs-url
// pointing at that server, target/debug/examples/chat and .../multiplex; then runs the
// checks of sockjs-tests.mjs, chat-test.mjs and multiplex-test.mjs one after the other. Every wait has a deadline,
// each check has one more around it, and the whole run has one (BROWSER_RUN_MS,
// default 240 s). The servers and the browser are stopped at the end, on failure too.
//
// `node run.mjs [GROUP...]` runs only the named groups (see sockjs-tests.mjs; the
// chat check is 'chat demo', the one with two chat instances behind haproxy 'chat
// scale-out', the others 'multiplex', 'multiplex demo', 'origins' and
// 'shutdown').
//
// Output: one line per check, a table of the transports' results, the run time, and
// last, alone on its line, `N passed, N failed`. Exit status 1 if anything failed.

import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { runChat } from './chat-test.mjs';
import { runChatScaleOut } from './scale-out-test.mjs';
import { runMultiplex, runMultiplexDemo } from './multiplex-test.mjs';
import { runOrigins } from './origins-test.mjs';
import { runShutdown } from './shutdown-test.mjs';
import { startProcess, startStaticServer, stopAll } from './servers.mjs';
import { CHECKS, GROUPS, runGroup } from './sockjs-tests.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '..', '..');
const ARTIFACTS = join(ROOT, 'target', 'browser-artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const RUN_MS = Number(process.env.BROWSER_RUN_MS ?? 240_000);
const CHECK_MS = 40_000;
const START_MS = 20_000;
// The flags this machine's Chromium needs (see the project's machine notes): no
// sandbox as root, no GPU, and nothing that would try to reach the internet.
// Playwright's launch() gives it a fresh, empty profile (--user-data-dir) each run.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// `node run.mjs websocket jsonp-polling` runs only those groups ('chat demo' is the
// chat check); no names: everything.
const ONLY = process.argv.slice(2);
const wanted = (name) => ONLY.length === 0 || ONLY.includes(name);

function withDeadline(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Calls window.H[method](...args) in the page, bounded on the node side as well. */
function call(page, method, args, ms) {
  return withDeadline(
    page.evaluate(([m, a]) => window.H[m](...a), [method, args]),
    ms + 2_000,
    `H.${method} in the page`,
  );
}

class Suite {
  constructor() {
    this.results = [];
    this.log = [];
  }

  /** Keeps what the pages of `context` say (console, errors, failed requests) for failure reports. */
  watch(context) {
    context.on('page', (page) => {
      page.on('console', (m) => this.log.push(`[console.${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => this.log.push(`[pageerror] ${e.message}`));
      page.on('requestfailed', (r) =>
        this.log.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
    });
  }

  async test(group, check, body) {
    const started = Date.now();
    const logFrom = this.log.length;
    try {
      await withDeadline(body(), CHECK_MS, `${group} / ${check}`);
      this.results.push({ group, check, ok: true });
      console.log(`ok   ${group} / ${check} (${Date.now() - started} ms)`);
    } catch (err) {
      this.fail(group, check, err, Date.now() - started);
      const seen = this.log.slice(logFrom).slice(-30);
      if (seen.length) console.log(`     the browser saw:\n       ${seen.join('\n       ')}`);
    }
  }

  fail(group, check, err, ms) {
    this.results.push({ group, check, ok: false, error: err });
    console.log(`FAIL ${group} / ${check}${ms === undefined ? '' : ` (${ms} ms)`}`);
    console.log(`     ${String(err?.message ?? err).split('\n').join('\n     ')}`);
  }

  table() {
    const groups = [...new Set(this.results.map((r) => r.group))];
    const columns = [...CHECKS, ...new Set(this.results.map((r) => r.check).filter((c) => !CHECKS.includes(c)))];
    const width = Math.max(...groups.map((g) => g.length), 9);
    const head = ['transport'.padEnd(width), ...columns].join(' | ');
    const rows = groups.map((g) => [g.padEnd(width), ...columns.map((c) => {
      const r = this.results.find((x) => x.group === g && x.check === c);
      return (r ? (r.ok ? 'pass' : 'FAIL') : '-').padEnd(c.length);
    })].join(' | '));
    return [head, head.replace(/[^|]/g, '-'), ...rows].join('\n');
  }
}

const suite = new Suite();
const started = Date.now();
let finished = false;

function finish() {
  if (finished) return;
  finished = true;
  const passed = suite.results.filter((r) => r.ok).length;
  const failed = suite.results.length - passed;
  console.log('');
  console.log(suite.table());
  console.log('');
  console.log(`browser run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
}

async function main() {
  let browser = null;
  let staticServer = null;
  try {
    staticServer = await startStaticServer();
    const testServer = await startProcess(
      'test_server',
      join(ROOT, 'target', 'debug', 'examples', 'test_server'),
      // Every check runs with websocket compression offered (and agreed by Chromium).
      ['--port', '0', '--workers', '2', '--sockjs-url', `${staticServer.origin}/sockjs.js`,
        '--permessage-deflate'],
      /listening on (http:\/\/127\.0\.0\.1:\d+)/,
      START_MS,
    );
    const restricted = await startProcess(
      'test_server --allowed-origins',
      join(ROOT, 'target', 'debug', 'examples', 'test_server'),
      ['--port', '0', '--workers', '1', '--sockjs-url', `${staticServer.origin}/sockjs.js`,
        '--allowed-origins', staticServer.origin],
      /listening on (http:\/\/127\.0\.0\.1:\d+)/,
      START_MS,
    );
    const doomed = await startProcess(
      'test_server (shut down by the shutdown check)',
      join(ROOT, 'target', 'debug', 'examples', 'test_server'),
      ['--port', '0', '--workers', '1', '--sockjs-url', `${staticServer.origin}/sockjs.js`],
      /listening on (http:\/\/127\.0\.0\.1:\d+)/,
      START_MS,
    );
    const chat = await startProcess(
      'chat',
      join(ROOT, 'target', 'debug', 'examples', 'chat'),
      ['--port', '0'],
      /chat demo on (http:\/\/127\.0\.0\.1:\d+)\/ \(sockjs-client from ([^)]*)\)/,
      START_MS,
    );
    if (!chat.readyLine.includes('sockjs-client from /sockjs.min.js')) {
      throw new Error(`the chat example found no local sockjs-client (vendor-js/): ${chat.readyLine}`);
    }
    const multiplexDemo = await startProcess(
      'multiplex',
      join(ROOT, 'target', 'debug', 'examples', 'multiplex'),
      ['--port', '0'],
      /multiplex demo on (http:\/\/127\.0\.0\.1:\d+)\/ \(sockjs-client from ([^)]*)\)/,
      START_MS,
    );
    console.log(`static pages on ${staticServer.origin}, test_server on ${testServer.origin}, chat on ${chat.origin}, multiplex demo on ${multiplexDemo.origin}`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: START_MS,
    });
    console.log(`chromium ${browser.version()}`);
    const env = {
      browser, suite, call, withDeadline,
      staticOrigin: staticServer.origin,
      serverOrigin: testServer.origin,
    };
    for (const group of GROUPS.filter((g) => wanted(g.name))) {
      await runGroup(env, group);
    }
    if (wanted('chat demo')) await runChat(env, chat.origin, ARTIFACTS);
    if (wanted('chat scale-out')) await runChatScaleOut(env, ROOT, ARTIFACTS);
    if (wanted('multiplex')) await runMultiplex(env);
    if (wanted('multiplex demo')) await runMultiplexDemo(env, multiplexDemo.origin, ARTIFACTS);
    if (wanted('origins')) await runOrigins(env, restricted.origin);
    if (wanted('shutdown')) await runShutdown(env, doomed);
  } catch (err) {
    suite.fail('setup', 'start', err);
  } finally {
    if (browser) await withDeadline(browser.close(), 10_000, 'closing chromium').catch(() => {});
    await stopAll(5_000);
    if (staticServer) await staticServer.close();
  }
}

// Past the whole-run deadline: report what ran, count the overrun as a failure, and
// exit; the exit handler of servers.mjs kills the servers, Playwright's the browser.
const overall = setTimeout(() => {
  suite.fail('run', 'deadline', new Error(`the browser run took more than ${RUN_MS / 1000} s`));
  finish();
  process.exit(1);
}, RUN_MS);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    suite.fail('run', 'signal', new Error(`stopped by ${signal}`));
    finish();
    process.exit(1);
  });
}

mkdirSync(ARTIFACTS, { recursive: true });
await main();
clearTimeout(overall);
finish();
