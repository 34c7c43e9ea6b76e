// Graceful shutdown in the browser: a test_server of its own, a page with a socket on
// every transport sockjs-client has in the browser (each forced alone; plain htmlfile
// aside, as it needs a page of the server's origin), then SIGTERM to the server.
// Every socket must close with the server's 1001 "Server shutting down" (not a
// transport error), and the server must exit by itself.
//
// Every wait has a deadline and resolves on the browser's or the process's events.

import assert from 'node:assert/strict';

const OPEN_MS = 10_000;
const CLOSE_MS = 10_000;

const TRANSPORTS = ['websocket', 'xhr-streaming', 'eventsource', 'iframe-eventsource',
  'iframe-htmlfile', 'xhr-polling', 'iframe-xhr-polling', 'jsonp-polling'];

/** `server` is {child, origin} from startProcess; it is stopped by this check. */
export async function runShutdown(env, server) {
  const { suite, call } = env;
  const context = await env.browser.newContext();
  context.setDefaultTimeout(OPEN_MS);
  suite.watch(context);
  const page = await context.newPage();
  try {
    await suite.test('shutdown', 'SIGTERM', async () => {
      await page.goto(`${env.staticOrigin}/`);
      await page.waitForFunction(() => typeof window.SockJS === 'function' && typeof window.H === 'object');
      const ids = [];
      for (const transport of TRANSPORTS) {
        const opened = await call(page, 'open', [`${server.origin}/echo`, [transport], OPEN_MS], OPEN_MS);
        assert.equal(opened.transport, transport);
        ids.push(opened.id);
      }
      const exited = new Promise((resolve) => server.child.once('exit', (code, signal) => resolve({ code, signal })));
      server.child.kill('SIGTERM');
      for (const [i, id] of ids.entries()) {
        const closed = await call(page, 'closed', [id, CLOSE_MS], CLOSE_MS);
        assert.deepEqual([closed.code, closed.reason], [1001, 'Server shutting down'], TRANSPORTS[i]);
      }
      const exit = await env.withDeadline(exited, CLOSE_MS, 'test_server exiting after SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
    });
  } finally {
    await env.withDeadline(context.close(), OPEN_MS, 'closing the browser context').catch(() => {});
  }
}
