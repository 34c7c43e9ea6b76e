// Rooms across instances, in a browser: two chat demo instances started with
// `--redis` (a redis-server of this check's own) behind the committed
// deploy/haproxy.cfg. Two pages open the chat through HAProxy; while they land on the
// same instance, the second one joins again (a new session, hashed anew), so that the
// check runs with one page on each instance, which each instance's /stats confirms.
// Then they chat: each sees the other join, both lines and the other's name in the
// room list. The screenshot of the second page is saved as an artifact
// (target/browser-artifacts/chat-scale-out.png).
//
// Needs haproxy and redis-server (scripts/test-scale-out --install installs them;
// HAPROXY / REDIS_SERVER name other binaries). Everything listens on 127.0.0.1, every
// process is stopped by stopAll(), every wait has a deadline.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startProcess } from './servers.mjs';

const WAIT_MS = 10_000;
const START_MS = 30_000;

/** A binary from `env` or the usual folders. */
function binary(name, variable) {
  if (process.env[variable]) return process.env[variable];
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin', '/sbin', '/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} not found: ./scripts/test-scale-out --install`);
}

/** A port of 127.0.0.1 that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:`port` accepts a connection; rejects after `ms`. */
async function listening(port, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * deploy/haproxy.cfg with its addresses replaced (front, two instances) and the
 * machine-level lines of `global` dropped (chroot, user, group, daemon, maxconn), its
 * log sent to stderr: the changes tests/common/deploy.rs makes for the Rust tests.
 */
function haproxyConfig(root, front, instances) {
  let cfg = readFileSync(join(root, 'deploy', 'haproxy.cfg'), 'utf8');
  for (const [from, to] of [[8080, front], [8081, instances[0]], [8082, instances[1]]]) {
    assert.ok(cfg.includes(`127.0.0.1:${from}`), `deploy/haproxy.cfg no longer uses 127.0.0.1:${from}`);
    cfg = cfg.replaceAll(`127.0.0.1:${from}`, `127.0.0.1:${to}`);
  }
  let section = '';
  const out = [];
  for (const line of cfg.split('\n')) {
    if (/^\S/.test(line) && !line.startsWith('#')) section = line.split(/\s+/)[0];
    const keyword = line.trim().split(/\s+/)[0];
    if (section === 'global' && /^\s/.test(line)) {
      if (['chroot', 'user', 'group', 'daemon', 'maxconn'].includes(keyword)) continue;
      if (keyword === 'log') {
        out.push('    log stderr format raw local0');
        continue;
      }
    }
    out.push(line);
  }
  return out.join('\n');
}

/** The number of open sessions of the `chat` service at `origin`. */
async function chatSessions(origin) {
  const res = await fetch(`${origin}/stats`, { signal: AbortSignal.timeout(WAIT_MS) });
  const stats = await res.json();
  return stats.chat.sessions_active;
}

/** Runs the check; `root` is the repository. */
export async function runChatScaleOut(env, examples, root, artifactsDir) {
  const { suite } = env;
  await suite.test('chat scale-out', 'rooms across instances', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'actix-sockjs-chat-scale-out-'));
    try {
      await chatAcrossInstances(env, examples, root, artifactsDir, dir);
    } finally {
      // haproxy read its configuration when it started; nothing else is kept here.
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** The check itself, with `dir` for haproxy's configuration. */
async function chatAcrossInstances(env, examples, root, artifactsDir, dir) {
  const { suite } = env;
  const redisPort = await freePort();
  await startProcess(
    'redis-server',
    binary('redis-server', 'REDIS_SERVER'),
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    /(Ready) to accept connections/,
    START_MS,
  );
  const redis = `redis://127.0.0.1:${redisPort}`;
  const chat = join(examples, 'chat');
  const ready = /chat demo on (http:\/\/127\.0\.0\.1:\d+)\//;
  const a = await startProcess('chat A', chat, ['--port', '0', '--redis', redis], ready, START_MS);
  const b = await startProcess('chat B', chat, ['--port', '0', '--redis', redis], ready, START_MS);
  const instances = [a, b].map((i) => Number(new URL(i.origin).port));
  const front = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(root, front, instances));
  // `-c` checks the file and prints a line (the ready line); then, in the same
  // process, haproxy runs in the foreground.
  await startProcess(
    'haproxy',
    '/bin/sh',
    ['-c', '"$0" -c -f "$1" && exec "$0" -db -f "$1"', binary('haproxy', 'HAPROXY'), cfg],
    /(Configuration file is valid)/,
    START_MS,
  );
  await listening(front, START_MS);
  const origin = `http://127.0.0.1:${front}`;

  const context = await env.browser.newContext({ viewport: { width: 1000, height: 720 } });
  context.setDefaultTimeout(WAIT_MS);
  suite.watch(context);
  const room = 'across';
  async function enter(page, name) {
    await page.goto(`${origin}/`);
    await page.fill('#name', name);
    await page.fill('#room', room);
    await page.click('#join button');
    await page.waitText('#status', `${name} in ${room} (`);
    await page.waitText('#people li', name);
  }
  /** Waits until the instances hold `counts` chat sessions (bounded). */
  async function sessionsAre(counts) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const now = [await chatSessions(a.origin), await chatSessions(b.origin)];
      if (now[0] === counts[0] && now[1] === counts[1]) return;
      if (Date.now() > deadline) throw new Error(`chat sessions ${now}, expected ${counts}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    const alice = await context.newPage();
    await enter(alice, 'alice');
    const aliceOnA = (await chatSessions(a.origin)) === 1;
    // Bob joins until HAProxy hashes his session to the other instance (each try
    // is a new session). Consistent hashing over two instances need not split the
    // ids evenly (a ring of 2 x 100 points can give one instance 70 %), so up to
    // 40 tries: with even a 75/25 split, all 40 on one side is a 1 in 100,000 event.
    const bob = await context.newPage();
    let split = false;
    for (let attempt = 0; attempt < 40 && !split; attempt += 1) {
      if (attempt > 0) {
        await bob.goto('about:blank');
        await sessionsAre(aliceOnA ? [1, 0] : [0, 1]);
      }
      await enter(bob, 'bob');
      const counts = [await chatSessions(a.origin), await chatSessions(b.origin)];
      split = counts[0] === 1 && counts[1] === 1;
    }
    assert.ok(split, 'bob never landed on the other instance than alice in 40 sessions');

    const waitText = (page, text) => page.waitText('#log', text);
    // Alice sees bob come in, through Redis; both lists hold both names (bob's
    // instance asked alice's who is in the room).
    await waitText(alice, 'bob joined');
    for (const page of [alice, bob]) {
      await page.waitText('#people li', 'alice');
      await page.waitText('#people li', 'bob');
    }
    await alice.fill('#text', 'hello from instance one');
    await alice.click('#say button');
    await waitText(bob, 'alice: hello from instance one');
    await bob.fill('#text', 'hi from instance two');
    await bob.click('#say button');
    for (const page of [alice, bob]) await waitText(page, 'bob: hi from instance two');

    mkdirSync(artifactsDir, { recursive: true });
    const shot = join(artifactsDir, `chat-scale-out-${env.browser.name}.png`);
    await bob.screenshot({ path: shot, fullPage: true });
    const bobLog = await bob.innerText('#log');
    assert.match(bobLog, /alice: hello from instance one[\s\S]*bob: hi from instance two/);
    assert.deepEqual((await alice.allInnerTexts('#people li')).sort(), ['alice', 'bob']);
    assert.deepEqual((await bob.allInnerTexts('#people li')).sort(), ['alice', 'bob']);
    console.log(`    screenshot: ${shot}`);
  } finally {
    await context.close();
  }
}
