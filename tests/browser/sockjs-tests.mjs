// The transport checks: every transport sockjs-client 1.x has in Chromium and
// Firefox, each forced alone (`new SockJS(url, null, {transports: [name]})`), then the client's own
// choice and its fallback when the service disables websockets, all against
// examples/test_server.
//
// Pages. All but one run in tests/browser/page.html on the static server's origin,
// so every connection is cross-origin: CORS with credentials, and the iframe-*
// transports loading test_server's /echo/iframe.html and talking to it by postMessage.
// Plain `htmlfile` is the exception: sockjs-client offers it only when the page and
// the server share an origin (its enabled() checks `info.sameOrigin`), and
// test_server serves nothing but SockJS routes. The one same-origin page it does
// serve is the iframe page, /echo/iframe.html, which loads sockjs-client from
// --sockjs-url like any page would; so the htmlfile run opens that page as the top
// window, adds the helpers to it, and connects from there to the same origin. That is
// a real page of the server under test and an unmodified client, not a stub; the
// only thing it adds is page-helpers.js. It passes in Firefox as well, but only
// because that page sets document.domain itself; htmlfile-test.mjs checks htmlfile
// from an ordinary page. (xdr-streaming and xdr-polling are sockjs-client's
// transports for IE 8-9's XDomainRequest, which neither browser has, so there is
// nothing to force there.)
//
// Each group runs in a fresh browser context (its own cookie jar), and each check
// on a fresh document and a socket of its own (see `check` below for why the
// document), so one failure does not hide the next.

import assert from 'node:assert/strict';

const OPEN_MS = 10_000;
const MESSAGE_MS = 10_000;

/** The groups; `expect` is the transport the socket must report on open. */
export const GROUPS = [
  ...['websocket', 'xhr-streaming', 'eventsource', 'iframe-eventsource', 'iframe-htmlfile',
    'xhr-polling', 'iframe-xhr-polling', 'jsonp-polling'].map((name) => ({
    name, transports: [name], expect: name, page: 'cross-origin', service: '/echo', full: true,
  })),
  { name: 'htmlfile', transports: ['htmlfile'], expect: 'htmlfile', page: 'same-origin', service: '/echo', full: true },
  // Unforced: websocket is first in sockjs-client's list and test_server offers it.
  { name: 'client choice', transports: null, expect: 'websocket', page: 'cross-origin', service: '/echo', full: false },
  // /info says websocket: false, so the next in the list, xhr-streaming (CORS), is used.
  { name: 'no-websocket fallback', transports: null, expect: 'xhr-streaming', page: 'cross-origin', service: '/disabled_websocket_echo', full: false },
];

/** The columns of the results table, in the order the checks run. */
export const CHECKS = ['open', 'order', 'unicode', '%', 'code units', '64KiB', '</script>', 'close 1000', '/close 3000', 'broadcast', 'cookie'];

const UNICODE = [
  'line\u2028separator',
  'paragraph\u2029separator',
  'pairs \ud83d\ude00 \ud834\udd1e \u{10ffff} \u{1f469}\u200d\u{1f52c}',
  'nul\u0000inside',
  'C0 ' + Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + ' DEL \u007f',
  'C1 ' + Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x80 + i)).join(''),
  'noncharacters \ufffe \uffff \ufdd0',
  'combining e\u0301 a\u0308 n\u0303\u0323 \u0915\u094d\u0937 Z\u0351\u0360\u036b',
  'escaped by the client \u200c\u200d\u200e\u200f \u2060\u206f \ufeff \ufff0\ufff9',
  'json " \\ / \b\f\n\r\t and <>&\'',
];

// sockjs-client's eventsource receiver runs every event through decodeURI: each of
// these broke (or threw URIError) before the server percent-escaped `%`.
const PERCENT = ['%', '%20', '%%', '%zz', '%E2%80%A8', '100%', '50% off', '%25', '%u2028',
  'a%0Ab%0D%00', '%3B%2F%3F%23', '% \u2028 %'];

/** 64 KiB of ASCII whose every 8-byte block says where it is, so a cut shows. */
function bigMessage() {
  let s = '';
  for (let i = 0; s.length < 65536; i++) s += i.toString(36).padStart(8, '.');
  assert.equal(s.length, 65536);
  return s;
}

const SCRIPT_MESSAGES = [
  '</script><script>window.__injected = 1</script>',
  'a</SCRIPT >b',
  '<!--<script>',
];

function codePoints(s) {
  return [...s].map((c) => 'U+' + c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')).join(' ');
}

/** deepEqual with a message that shows where and how two message lists differ. */
export function assertSameMessages(got, want) {
  assert.equal(got.length, want.length, `got ${got.length} messages, want ${want.length}`);
  got.forEach((g, i) => {
    if (g === want[i]) return;
    if (want[i].length > 200) {
      let at = 0;
      while (at < g.length && g[at] === want[i][at]) at++;
      assert.fail(`message ${i}: ${g.length} chars, want ${want[i].length}; first difference at ${at}`);
    }
    assert.fail(`message ${i} differs:\n  got  ${JSON.stringify(g)} (${codePoints(g)})\n  want ${JSON.stringify(want[i])} (${codePoints(want[i])})`);
  });
}

/**
 * Runs every check of one group. `env` has {browser, staticOrigin, serverOrigin,
 * suite, call, withDeadline}.
 */
export async function runGroup(env, group) {
  const { suite, call } = env;
  const context = await env.browser.newContext();
  context.setDefaultTimeout(OPEN_MS);
  suite.watch(context);
  const url = (service) => `${env.serverOrigin}${service}`;

  /** Loads the group's page into `page` (a new one if none): a fresh document. */
  async function openPage(page = null) {
    page ??= await context.newPage();
    if (group.page === 'cross-origin') {
      await page.goto(`${env.staticOrigin}/`);
    } else {
      await page.goto(`${env.serverOrigin}/echo/iframe.html`);
      await page.addScriptTag({ url: `${env.staticOrigin}/page-helpers.js` });
    }
    await page.waitForFunction(() => typeof window.SockJS === 'function' && typeof window.H === 'object');
    return page;
  }

  async function open(page, service) {
    const opened = await call(page, 'open', [url(service), group.transports, OPEN_MS], OPEN_MS);
    assert.equal(opened.transport, group.expect, `transport used on ${service}`);
    if (group.expect === 'websocket') {
      // test_server runs with --permessage-deflate: the browser agrees to it.
      assert.match(opened.extensions, /^permessage-deflate/, `websocket extensions on ${service}`);
    }
    return opened.id;
  }

  async function echo(page, id, messages) {
    await call(page, 'send', [id, messages], MESSAGE_MS);
    const got = await call(page, 'receive', [id, messages.length, MESSAGE_MS], MESSAGE_MS);
    assertSameMessages(got, messages);
  }

  /** Opens a socket on `service`, runs `body(id)`, then closes it (bounded). */
  async function withSocket(page, service, body) {
    const id = await open(page, service);
    try {
      await body(id);
    } finally {
      await call(page, 'close', [id, MESSAGE_MS], MESSAGE_MS).catch(() => {});
    }
  }

  // Each check starts on a fresh document: the group's page loads the test page
  // anew (Context.withPage in browsers.mjs). Leaving a document is
  // what cancels its outstanding requests. jsonp-polling needs that: when
  // sockjs-client closes a jsonp socket it removes the <script> of the pending poll,
  // but Chromium does not cancel a removed script's load, so the poll stays open
  // until the server's next heartbeat (25 s). Six such leftovers fill Chromium's six
  // connections per host and the next /info request waits until it times out. No
  // request reaches the server when the client closes, so it cannot end the poll
  // sooner (sockjs-node behaves the same). A fresh document keeps the checks from
  // inheriting each other's connections, for every transport; navigating one page
  // instead of opening one per check saves most of a check's time.
  const check = (name, body) => suite.test(group.name, name, () => context.withPage(async (page) => {
    await openPage(page);
    await body(page);
  }));

  try {
    await check('open', (page) => withSocket(page, group.service, (id) => echo(page, id, ['first'])));

    await check('order', (page) => {
      const messages = Array.from({ length: 25 }, (_, i) => `message ${i} of 25`);
      return withSocket(page, group.service, (id) => echo(page, id, messages));
    });

    await check('unicode', (page) =>
      withSocket(page, group.service, (id) => echo(page, id, [...UNICODE, UNICODE.join('|')])));

    await check('%', (page) =>
      withSocket(page, group.service, (id) => echo(page, id, [...PERCENT, PERCENT.join('')])));

    await check('code units', (page) => withSocket(page, group.service, async (id) => {
      const got = await call(page, 'echoCodeUnits', [id, 4096, MESSAGE_MS], 4 * MESSAGE_MS);
      assert.deepEqual(got.mismatches, [], 'echoes that differ from what was sent');
      assert.equal(got.sent, 16, 'messages sent');
      // 0xD800-0xDFFF in order hold one pair (U+DBFF U+DC00); the other 2046 are lone.
      assert.equal(got.lone, 2046, 'lone surrogates sent');
    }));

    await check('64KiB', (page) =>
      withSocket(page, group.service, (id) => echo(page, id, [bigMessage(), 'after the big one'])));

    await check('</script>', async (page) => {
      await withSocket(page, group.service, (id) => echo(page, id, SCRIPT_MESSAGES));
      const injected = await page.evaluate(() => window.__injected);
      assert.equal(injected, undefined, 'a message ran as script in the page');
    });

    await check('close 1000', async (page) => {
      const id = await open(page, group.service);
      const closed = await call(page, 'close', [id, MESSAGE_MS], MESSAGE_MS);
      assert.equal(closed.code, 1000, `close event ${JSON.stringify(closed)}`);
    });

    if (!group.full) return;

    await check('/close 3000', async (page) => {
      const id = await open(page, '/close');
      const closed = await call(page, 'closed', [id, MESSAGE_MS], MESSAGE_MS);
      assert.deepEqual([closed.code, closed.reason], [3000, 'Go away!']);
    });

    await check('broadcast', async (page) => {
      const other = await openPage();
      try {
        const a = await open(page, '/broadcast');
        const b = await open(other, '/broadcast');
        const tag = `${group.name} ${Date.now()}`;
        await call(page, 'send', [a, [`A says hi (${tag})`]], MESSAGE_MS);
        await call(other, 'send', [b, [`B says hi (${tag})`]], MESSAGE_MS);
        const seenByA = await call(page, 'receiveIncluding', [a, `B says hi (${tag})`, MESSAGE_MS], MESSAGE_MS);
        const seenByB = await call(other, 'receiveIncluding', [b, `A says hi (${tag})`, MESSAGE_MS], MESSAGE_MS);
        assert.ok(seenByA.includes(`B says hi (${tag})`));
        assert.ok(seenByB.includes(`A says hi (${tag})`));
      } finally {
        await env.withDeadline(other.close(), OPEN_MS, 'closing the second page').catch(() => {});
      }
    });

    await check('cookie', async (page) => {
      const jar = async () => (await context.cookies(env.serverOrigin)).filter((c) => c.name === 'JSESSIONID');
      assert.deepEqual(await jar(), [], 'JSESSIONID before the test');
      const info = await page.evaluate(async (u) => (await fetch(u, { credentials: 'include' })).json(),
        url('/cookie_needed_echo/info'));
      assert.equal(info.cookie_needed, true, '/cookie_needed_echo/info says cookie_needed');
      await withSocket(page, '/cookie_needed_echo', (id) => echo(page, id, ['cookie please']));
      const cookies = await jar();
      assert.equal(cookies.length, 1,
        `the browser holds no JSESSIONID cookie for ${env.serverOrigin} after a ${group.expect} session on /cookie_needed_echo`);
      assert.equal(cookies[0].path, '/');
    });
  } finally {
    await env.withDeadline(context.close(), OPEN_MS, 'closing the browser context').catch(() => {});
  }
}
