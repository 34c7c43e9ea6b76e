// htmlfile, the one transport that does not work in every browser.
//
// sockjs-client's htmlfile transport loads the server's htmlfile page into a hidden
// iframe; that page sets `document.domain = document.domain;` and then calls its
// parent's callback (`parent._jp...`). The page is fixed by the SockJS protocol
// (sockjs-node serves the same bytes, and the protocol's own test suite compares
// them), so the server must not change it. Chromium ignores the document.domain
// setter. Firefox honours it: the frame's origin is then "domain-set" and its parent's
// is not, the two stop counting as the same origin, the call throws a SecurityError
// and the client never opens. (The htmlfile group of sockjs-tests.mjs passes in
// Firefox all the same: its top page is the server's /echo/iframe.html, which sets
// document.domain itself, so both documents are in the same state. Ordinary pages
// do not do that; hence this file.)
//
// Group 'htmlfile (echo page)', on an ordinary page of the server's origin (the chat
// example's /echo.html, with its /echo service; sockjs-client offers htmlfile only to
// a page of the server's origin):
//
// - 'forced': a client with `transports: ['htmlfile']`. Where htmlfile works (see
//   BROWSERS in browsers.mjs) it connects and echoes. Where it does not, it must fail
//   exactly as known: closed with sockjs-client's 2000 "All transports failed" and
//   the SecurityError on "_jp" reported by the page. Should htmlfile connect there
//   one day, the check fails and says that the expectation has changed.
// - 'fallback': a client offered htmlfile first and xhr-polling next connects, on
//   htmlfile where it works and on xhr-polling where it does not, and echoes both
//   ways: what a user of that browser gets.

import assert from 'node:assert/strict';

const OPEN_MS = 10_000;
const MESSAGE_MS = 10_000;

/** What Firefox reports when the htmlfile frame calls its parent. */
const SECURITY_ERROR = /SecurityError: Permission denied to access property "_jp" on cross-origin object/;

/** Runs the group against the chat example at `chatOrigin`. */
export async function runHtmlfile(env, chatOrigin) {
  const { suite, call } = env;
  const name = env.browser.name;
  const group = 'htmlfile (echo page)';
  const context = await env.browser.newContext();
  context.setDefaultTimeout(OPEN_MS);
  suite.watch(context);
  const url = `${chatOrigin}/echo`;

  const onEchoPage = (check, body) => suite.test(group, check, () => context.withPage(async (page) => {
    await page.goto(`${chatOrigin}/echo.html`);
    await page.addScriptTag({ url: `${env.staticOrigin}/page-helpers.js` });
    await page.waitForFunction(() => typeof window.SockJS === 'function' && typeof window.H === 'object');
    await body(page);
  }));

  /** Echoes a few messages on socket `id`, then closes it. */
  async function echo(page, id) {
    const messages = ['over htmlfile or past it', 'unicode \u2028 \ud83d\ude00', '</script>'];
    await call(page, 'send', [id, messages], MESSAGE_MS);
    assert.deepEqual(await call(page, 'receive', [id, messages.length, MESSAGE_MS], MESSAGE_MS), messages);
    const closed = await call(page, 'close', [id, MESSAGE_MS], MESSAGE_MS);
    assert.equal(closed.code, 1000);
  }

  try {
    await onEchoPage('forced', async (page) => {
      const from = suite.log.length;
      let opened = null;
      let refused = null;
      try {
        opened = await call(page, 'open', [url, ['htmlfile'], OPEN_MS], OPEN_MS);
      } catch (err) {
        refused = err;
      }
      if (env.browser.htmlfileWorks) {
        if (refused) throw refused;
        assert.equal(opened.transport, 'htmlfile');
        await echo(page, opened.id);
        return;
      }
      if (opened) {
        await call(page, 'close', [opened.id, MESSAGE_MS], MESSAGE_MS).catch(() => {});
        assert.fail(`htmlfile now connects in ${name} (transport ${opened.transport}): `
          + 'the expectation changed; set htmlfileWorks for it in browsers.mjs and '
          + 'correct the notes on htmlfile in README.md');
      }
      assert.match(String(refused?.message), /closed before open: 2000 All transports failed/,
        'how the forced htmlfile client ended');
      const said = suite.seenSince(from);
      assert.ok(said.some((line) => SECURITY_ERROR.test(line)),
        `no SecurityError on "_jp" among what the page reported:\n${said.join('\n')}`);
    });

    await onEchoPage('fallback', async (page) => {
      const expect = env.browser.htmlfileWorks ? 'htmlfile' : 'xhr-polling';
      const opened = await call(page, 'open', [url, ['htmlfile', 'xhr-polling'], OPEN_MS], OPEN_MS);
      assert.equal(opened.transport, expect,
        `the transport a client offered htmlfile, then xhr-polling, ends on in ${name}`);
      await echo(page, opened.id);
    });
  } finally {
    await env.withDeadline(context.close(), OPEN_MS, 'closing the browser context').catch(() => {});
  }
}
