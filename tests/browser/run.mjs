// The browser test suite's driver: sockjs-client in two real browsers, Debian's
// Chromium and Firefox ESR (/usr/bin/chromium and /usr/bin/firefox-esr, never a
// downloaded browser; browsers.mjs), against the built examples, so what the Rust
// tests check on the wire is also checked where it matters, in a browser: every
// sockjs-client transport cross-origin (CORS with credentials, the iframe bridge),
// unicode, big messages, close codes, broadcast, the JSESSIONID cookie, htmlfile from
// an ordinary page and the fallback past it where it fails (htmlfile-test.mjs), the
// chat demo with two pages, channel multiplexing with the websocket-multiplex client
// (test_server's /multiplex and the multiplex demo page), the origin allowlist (a
// second test_server with --allowed-origins; origins-test.mjs), and a graceful
// shutdown seen from every transport (a test_server of each browser's own;
// shutdown-test.mjs).
//
// Started by scripts/test-browser, which installs the npm packages and builds the
// examples first. It starts, all on 127.0.0.1: a static server for the test page and
// sockjs-client (servers.mjs), test_server from $CARGO_TARGET_DIR/debug/examples
// (target/ by default) with --sockjs-url pointing at that server, the chat and
// multiplex examples; then runs every check in Chromium, then every check in Firefox
// (BROWSERS=firefox or BROWSERS=chromium for one of them), against the same servers.
// The checks are written once, against the small page API of browsers.mjs. Every
// wait has a deadline, each check has one more around it, and the whole run has one
// (BROWSER_RUN_MS, default 420 s). The servers and the browsers are stopped at the
// end, on failure too.
//
// `node run.mjs [GROUP...]` runs only the named groups (see sockjs-tests.mjs; the
// chat check is 'chat demo', the one with two chat instances behind haproxy 'chat
// scale-out', the others 'htmlfile (echo page)', 'multiplex', 'multiplex demo',
// 'origins' and 'shutdown').
//
// Output: one line per check, prefixed with the browser's name; then for each
// browser its version, its counts and a table of its results; the run time; and
// last, alone on its line, `N passed, N failed` over both browsers. Exit status 1 if
// anything failed.

import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch } from './browsers.mjs';
import { runChat } from './chat-test.mjs';
import { runHtmlfile } from './htmlfile-test.mjs';
import { runChatScaleOut } from './scale-out-test.mjs';
import { runMultiplex, runMultiplexDemo } from './multiplex-test.mjs';
import { runOrigins } from './origins-test.mjs';
import { runShutdown } from './shutdown-test.mjs';
import { startProcess, startStaticServer, stopAll } from './servers.mjs';
import { CHECKS, GROUPS, runGroup } from './sockjs-tests.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '..', '..');
// Where cargo put the examples: $CARGO_TARGET_DIR, else the repository's target/.
const TARGET = resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target');
const EXAMPLES = join(TARGET, 'debug', 'examples');
const ARTIFACTS = join(ROOT, 'target', 'browser-artifacts');
const RUN_MS = Number(process.env.BROWSER_RUN_MS ?? 420_000);
const CHECK_MS = 40_000;
const START_MS = 20_000;
// The browsers, in the order they run: BROWSERS=firefox (or chromium) for one only.
const BROWSER_NAMES = (process.env.BROWSERS || 'chromium,firefox').split(',').map((b) => b.trim()).filter(Boolean);

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
    // The browser the checks run in now; every result and line carries its name.
    this.browser = 'setup';
  }

  /** Keeps what the pages of `context` say (console, errors, failed requests) for failure reports. */
  watch(context) {
    context.onPage((page) => {
      page.on('console', (m) => this.log.push(`[console.${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => this.log.push(`[pageerror] ${e?.message ?? e}`));
      page.on('requestfailed', (r) =>
        this.log.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
    });
  }

  /** What the pages said since `from` (an earlier this.log.length). */
  seenSince(from) {
    return this.log.slice(from);
  }

  async test(group, check, body) {
    const started = Date.now();
    const logFrom = this.log.length;
    try {
      await withDeadline(body(), CHECK_MS, `${group} / ${check}`);
      this.results.push({ browser: this.browser, group, check, ok: true });
      console.log(`${this.browser.padEnd(8)} ok   ${group} / ${check} (${Date.now() - started} ms)`);
    } catch (err) {
      this.fail(group, check, err, Date.now() - started);
      const seen = this.log.slice(logFrom).slice(-30);
      if (seen.length) console.log(`     the browser saw:\n       ${seen.join('\n       ')}`);
    }
  }

  fail(group, check, err, ms) {
    this.results.push({ browser: this.browser, group, check, ok: false, error: err });
    console.log(`${this.browser.padEnd(8)} FAIL ${group} / ${check}${ms === undefined ? '' : ` (${ms} ms)`}`);
    console.log(`     ${String(err?.message ?? err).split('\n').join('\n     ')}`);
  }

  /** The results table of one browser's checks. */
  table(browser) {
    const results = this.results.filter((r) => r.browser === browser);
    const groups = [...new Set(results.map((r) => r.group))];
    const columns = [...CHECKS, ...new Set(results.map((r) => r.check).filter((c) => !CHECKS.includes(c)))];
    const width = Math.max(...groups.map((g) => g.length), 9);
    const head = ['transport'.padEnd(width), ...columns].join(' | ');
    const rows = groups.map((g) => [g.padEnd(width), ...columns.map((c) => {
      const r = results.find((x) => x.group === g && x.check === c);
      return (r ? (r.ok ? 'pass' : 'FAIL') : '-').padEnd(c.length);
    })].join(' | '));
    return [head, head.replace(/[^|]/g, '-'), ...rows].join('\n');
  }
}

const suite = new Suite();
const started = Date.now();
// browser name -> "firefox 153.8.0" once launched, for the tables' titles.
const versions = new Map();
let finished = false;

function finish() {
  if (finished) return;
  finished = true;
  for (const browser of new Set(suite.results.map((r) => r.browser))) {
    const mine = suite.results.filter((r) => r.browser === browser);
    const ok = mine.filter((r) => r.ok).length;
    console.log('');
    console.log(`${versions.get(browser) ?? browser}: ${ok} passed, ${mine.length - ok} failed`);
    console.log(suite.table(browser));
  }
  const passed = suite.results.filter((r) => r.ok).length;
  const failed = suite.results.length - passed;
  console.log('');
  console.log(`browser run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
}

/** A test_server on a free port; `extra` are more arguments. */
function startTestServer(what, staticServer, extra) {
  return startProcess(
    what,
    join(EXAMPLES, 'test_server'),
    ['--port', '0', '--sockjs-url', `${staticServer.origin}/sockjs.js`, ...extra],
    /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    START_MS,
  );
}

/** Every check, in one browser, against the servers already started. */
async function runBrowser(name, servers) {
  suite.browser = name;
  const started = Date.now();
  let browser = null;
  try {
    browser = await withDeadline(launch(name, START_MS), START_MS + 5_000, `starting ${name}`);
    versions.set(name, await browser.version());
    console.log(`== ${versions.get(name)}`);
    const env = {
      browser, suite, call, withDeadline,
      staticOrigin: servers.staticServer.origin,
      serverOrigin: servers.testServer.origin,
    };
    for (const group of GROUPS.filter((g) => wanted(g.name))) {
      await runGroup(env, group);
    }
    if (wanted('htmlfile (echo page)')) await runHtmlfile(env, servers.chat.origin);
    if (wanted('chat demo')) await runChat(env, servers.chat.origin, ARTIFACTS);
    if (wanted('chat scale-out')) await runChatScaleOut(env, EXAMPLES, ROOT, ARTIFACTS);
    if (wanted('multiplex')) await runMultiplex(env);
    if (wanted('multiplex demo')) await runMultiplexDemo(env, servers.multiplexDemo.origin, ARTIFACTS);
    if (wanted('origins')) await runOrigins(env, servers.restricted.origin, servers.chat.origin);
    if (wanted('shutdown')) {
      // A server of its own for each browser: the check stops it.
      const doomed = await startTestServer(`test_server (shut down by ${name}'s shutdown check)`,
        servers.staticServer, ['--workers', '1']);
      await runShutdown(env, doomed);
    }
  } catch (err) {
    suite.fail('setup', name, err);
  } finally {
    if (browser) await withDeadline(browser.close(), 10_000, `closing ${name}`).catch(() => {});
    console.log(`== ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

async function main() {
  let staticServer = null;
  try {
    staticServer = await startStaticServer();
    // Every check runs with websocket compression offered (and agreed by the browsers).
    const testServer = await startTestServer('test_server', staticServer,
      ['--workers', '2', '--permessage-deflate']);
    const restricted = await startTestServer('test_server --allowed-origins', staticServer,
      ['--workers', '1', '--allowed-origins', staticServer.origin]);
    const chat = await startProcess(
      'chat',
      join(EXAMPLES, 'chat'),
      ['--port', '0'],
      /chat demo on (http:\/\/127\.0\.0\.1:\d+)\/ \(sockjs-client from ([^)]*)\)/,
      START_MS,
    );
    if (!chat.readyLine.includes('sockjs-client from /sockjs.min.js')) {
      throw new Error(`the chat example found no local sockjs-client (vendor-js/): ${chat.readyLine}`);
    }
    const multiplexDemo = await startProcess(
      'multiplex',
      join(EXAMPLES, 'multiplex'),
      ['--port', '0'],
      /multiplex demo on (http:\/\/127\.0\.0\.1:\d+)\/ \(sockjs-client from ([^)]*)\)/,
      START_MS,
    );
    console.log(`static pages on ${staticServer.origin}, test_server on ${testServer.origin}, chat on ${chat.origin}, multiplex demo on ${multiplexDemo.origin}`);
    const servers = { staticServer, testServer, restricted, chat, multiplexDemo };
    for (const name of BROWSER_NAMES) await runBrowser(name, servers);
  } catch (err) {
    suite.fail('setup', 'start', err);
  } finally {
    await stopAll(5_000);
    if (staticServer) await staticServer.close();
  }
}

// Past the whole-run deadline: report what ran, count the overrun as a failure, and
// exit; the exit handler of servers.mjs kills the servers, puppeteer's the browser.
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
