// The processes and servers of the browser tests, all on 127.0.0.1:
//
// - a tiny static server (node's http module, a fixed table of files) that gives
//   the test page its own origin, different from test_server's, and serves the
//   npm-installed sockjs-client that both the page and test_server's iframe page load;
// - the example binaries (test_server, chat), started on port 0 and known to be ready
//   when they print their address line, which gives the port they got.
//
// Why a table and not a directory: the server must never serve anything but what the
// tests need, and a fixed table has no path traversal to get wrong.
//
// Every process started here is remembered, stopped by stopAll() (TERM, then KILL
// after a deadline), and killed synchronously if node exits any other way; its pid is
// also appended to $BROWSER_PIDFILE so scripts/test-browser can clean up after a
// node that was itself killed.

import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Where the pinned sockjs-client's unminified browser build is. */
export function sockjsClientPath() {
  return join(dirname(require.resolve('sockjs-client/package.json')), 'dist', 'sockjs.js');
}

/** Where the pinned websocket-multiplex browser client is. */
export function multiplexClientPath() {
  return join(dirname(require.resolve('websocket-multiplex/package.json')), 'multiplex_client.js');
}

/** Starts the static server on a free port; resolves with {origin, close()}. */
export function startStaticServer() {
  const files = {
    '/': ['page.html', 'text/html; charset=utf-8', join(here, 'page.html')],
    '/page-helpers.js': ['page-helpers.js', 'application/javascript; charset=utf-8', join(here, 'page-helpers.js')],
    '/sockjs.js': ['sockjs.js', 'application/javascript; charset=utf-8', sockjsClientPath()],
    '/multiplex.js': ['multiplex.js', 'application/javascript; charset=utf-8', multiplexClientPath()],
  };
  // Read once: the files do not change during a run, and a missing one fails here.
  const bodies = new Map(
    Object.entries(files).map(([route, [, type, path]]) => [route, { type, body: readFileSync(path) }]),
  );
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    const file = bodies.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (path === '/favicon.ico') {
      res.writeHead(204).end();
    } else if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    } else {
      res.writeHead(200, {
        'Content-Type': file.type,
        'Content-Length': file.body.length,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : file.body);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

const children = new Set();

process.on('exit', () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

/**
 * Spawns `binary args` and resolves with {child, origin, output()} once a stdout line
 * matches `readyPattern` (its first group is the origin); rejects if the process exits
 * first or nothing matched within `ms`. output() gives the last lines it printed, for
 * failure reports.
 */
export function startProcess(name, binary, args, readyPattern, ms) {
  const child = spawn(binary, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  children.add(child);
  if (process.env.BROWSER_PIDFILE && child.pid) {
    appendFileSync(process.env.BROWSER_PIDFILE, `${child.pid}\n`);
  }
  const lines = [];
  const keep = (chunk) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line) lines.push(line);
    }
    lines.splice(0, Math.max(0, lines.length - 200));
  };
  child.stderr.on('data', keep);
  const output = () => `--- last lines of ${name} ---\n${lines.slice(-40).join('\n')}`;
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      fail(new Error(`${name} printed no ready line within ${ms} ms\n${output()}`));
    }, ms);
    function fail(err) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.once('error', (err) => fail(new Error(`${name}: ${err.message}`)));
    child.once('exit', (code, signal) => {
      fail(new Error(`${name} exited (${code ?? signal}) before it was ready\n${output()}`));
    });
    let ready = false;
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      // Once ready, later output is only kept: matching again would remove the
      // 'exit' listeners that stopAll() adds (redis-server prints on SIGTERM).
      if (ready) return;
      buffered += chunk.toString('utf8');
      const match = buffered.match(readyPattern);
      if (match) {
        ready = true;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, origin: match[1], readyLine: match[0], output });
      }
    });
  });
}

/** Stops every process started here: TERM, then KILL for any still alive after `ms`. */
export async function stopAll(ms) {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    running.map(
      (child) =>
        new Promise((done) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), ms);
          child.once('exit', () => {
            clearTimeout(timer);
            children.delete(child);
            done();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}
