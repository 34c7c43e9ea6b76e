// The origin allowlist in the browser, against a second test_server started with
// `--allowed-origins <the static server's origin>`:
//
// - 'allowed origin': the test page on the allowed origin connects over every
//   transport sockjs-client has in the browser (each forced alone) and gets its echo;
//   htmlfile from the server's own page, as in sockjs-tests.mjs. A plain WebSocket
//   and a JSONP <script> made by hand work too.
// - 'foreign origin': the same page, served by the same static server but reached as
//   http://localhost:PORT (another origin than http://127.0.0.1:PORT), gets no
//   connection on any transport; its plain WebSocket closes without opening and its
//   JSONP <script> fails to load (the browser sends no Origin for a script, only its
//   Referer and Sec-Fetch-Site).
// - 'default origins': the chat example's `/echo`, a service with the default
//   configuration (only its own origin): a page of another origin (the static
//   server's) gets no connection, no plain WebSocket and no JSONP script, while the
//   example's own page connects.
//
// Every wait has a deadline and resolves on the browser's own events.

import assert from 'node:assert/strict';

const OPEN_MS = 10_000;

const TRANSPORTS = ['websocket', 'xhr-streaming', 'eventsource', 'iframe-eventsource',
  'iframe-htmlfile', 'xhr-polling', 'iframe-xhr-polling', 'jsonp-polling'];

/** In the page: a plain WebSocket to `url`; 'open' or 'closed CODE'. */
function rawWebSocket({ url, ms }) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => resolve('nothing'), ms);
    ws.onopen = () => { clearTimeout(timer); ws.close(); resolve('open'); };
    ws.onclose = (e) => { clearTimeout(timer); resolve(`closed ${e.code}`); };
  });
}

/** In the page: a <script> loading `url`; 'loaded' or 'error'. */
function scriptTag({ url, ms }) {
  return new Promise((resolve) => {
    window.cb = () => {};
    const script = document.createElement('script');
    const timer = setTimeout(() => resolve('nothing'), ms);
    script.onload = () => { clearTimeout(timer); resolve('loaded'); };
    script.onerror = () => { clearTimeout(timer); resolve('error'); };
    script.src = url;
    document.head.appendChild(script);
  });
}

/** The transports the 'default origins' group tries. */
const DEFAULT_TRANSPORTS = ['websocket', 'xhr-streaming', 'iframe-eventsource', 'xhr-polling',
  'jsonp-polling'];

/**
 * Runs the groups. `restricted` is the origin of the test_server with the allowlist,
 * `ownOnly` that of a server whose `/echo` has the default configuration.
 */
export async function runOrigins(env, restricted, ownOnly) {
  const { suite, call } = env;
  const foreign = env.staticOrigin.replace('127.0.0.1', 'localhost');
  assert.notEqual(foreign, env.staticOrigin, 'the static server is on 127.0.0.1');
  const context = await env.browser.newContext();
  context.setDefaultTimeout(OPEN_MS);
  suite.watch(context);
  const wsUrl = (path) => `${restricted.replace('http://', 'ws://')}${path}`;
  const sessionPath = (transport) =>
    `/echo/000/${Math.random().toString(36).slice(2, 10)}/${transport}`;

  // Each check on a fresh document of the context's one page (Context.withPage).
  const onPage = (group, name, pageUrl, body) => suite.test(group, name, () => context.withPage(async (page) => {
    await page.goto(pageUrl);
    if (!pageUrl.startsWith(env.staticOrigin) && !pageUrl.startsWith(foreign)) {
      await page.addScriptTag({ url: `${env.staticOrigin}/page-helpers.js` });
    }
    await page.waitForFunction(() => typeof window.SockJS === 'function' && typeof window.H === 'object');
    await body(page);
  }));

  const echoOver = async (page, transports, expect) => {
    const opened = await call(page, 'open', [`${restricted}/echo`, transports, OPEN_MS], OPEN_MS);
    assert.equal(opened.transport, expect);
    await call(page, 'send', [opened.id, ['from an allowed page']], OPEN_MS);
    assert.deepEqual(await call(page, 'receive', [opened.id, 1, OPEN_MS], OPEN_MS), ['from an allowed page']);
    await call(page, 'close', [opened.id, OPEN_MS], OPEN_MS).catch(() => {});
  };

  try {
    for (const transport of TRANSPORTS) {
      await onPage('allowed origin', transport, `${env.staticOrigin}/`,
        (page) => echoOver(page, [transport], transport));
    }
    await onPage('allowed origin', 'htmlfile', `${restricted}/echo/iframe.html`,
      (page) => echoOver(page, ['htmlfile'], 'htmlfile'));
    await onPage('allowed origin', 'plain websocket', `${env.staticOrigin}/`, async (page) => {
      const got = await page.evaluate(rawWebSocket, { url: wsUrl('/echo/websocket'), ms: OPEN_MS });
      assert.equal(got, 'open');
    });
    await onPage('allowed origin', 'jsonp script', `${env.staticOrigin}/`, async (page) => {
      const got = await page.evaluate(scriptTag, { url: `${restricted}${sessionPath('jsonp')}?c=cb`, ms: OPEN_MS });
      assert.equal(got, 'loaded');
    });

    for (const transport of TRANSPORTS) {
      await onPage('foreign origin', transport, `${foreign}/`, async (page) => {
        await assert.rejects(
          call(page, 'open', [`${restricted}/echo`, [transport], OPEN_MS], OPEN_MS),
          /closed before open/,
          `a page on ${foreign} connected over ${transport}`,
        );
      });
    }
    await onPage('foreign origin', 'plain websocket', `${foreign}/`, async (page) => {
      const got = await page.evaluate(rawWebSocket, { url: wsUrl('/echo/websocket'), ms: OPEN_MS });
      assert.match(got, /^closed /);
    });
    await onPage('foreign origin', 'jsonp script', `${foreign}/`, async (page) => {
      const got = await page.evaluate(scriptTag, { url: `${restricted}${sessionPath('jsonp')}?c=cb`, ms: OPEN_MS });
      assert.equal(got, 'error');
    });

    for (const transport of DEFAULT_TRANSPORTS) {
      await onPage('default origins', `foreign ${transport}`, `${env.staticOrigin}/`, async (page) => {
        await assert.rejects(
          call(page, 'open', [`${ownOnly}/echo`, [transport], OPEN_MS], OPEN_MS),
          /closed before open/,
          `a page on ${env.staticOrigin} connected to a default service over ${transport}`,
        );
      });
    }
    await onPage('default origins', 'foreign plain websocket', `${env.staticOrigin}/`, async (page) => {
      const url = `${ownOnly.replace('http://', 'ws://')}/echo/websocket`;
      assert.match(await page.evaluate(rawWebSocket, { url, ms: OPEN_MS }), /^closed /);
    });
    await onPage('default origins', 'foreign jsonp script', `${env.staticOrigin}/`, async (page) => {
      const url = `${ownOnly}${sessionPath('jsonp')}?c=cb`;
      assert.equal(await page.evaluate(scriptTag, { url, ms: OPEN_MS }), 'error');
    });
    for (const transport of DEFAULT_TRANSPORTS) {
      await onPage('default origins', `own ${transport}`, `${ownOnly}/echo.html`, async (page) => {
        const opened = await call(page, 'open', [`${ownOnly}/echo`, [transport], OPEN_MS], OPEN_MS);
        assert.equal(opened.transport, transport);
        await call(page, 'send', [opened.id, ['from its own page']], OPEN_MS);
        assert.deepEqual(await call(page, 'receive', [opened.id, 1, OPEN_MS], OPEN_MS), ['from its own page']);
        await call(page, 'close', [opened.id, OPEN_MS], OPEN_MS).catch(() => {});
      });
    }
  } finally {
    await env.withDeadline(context.close(), OPEN_MS, 'closing the browser context').catch(() => {});
  }
}
