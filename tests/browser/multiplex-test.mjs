// Channel multiplexing in the browser, with the real `websocket-multiplex` 0.1.0
// client from npm (its multiplex_client.js, pinned by package-lock.json):
//
// - 'multiplex' group: on the cross-origin test page, test_server's /multiplex over a
//   websocket, xhr-streaming and xhr-polling. Three channels on one connection each
//   get their own echoes (payloads with commas and unicode), a channel the client
//   closes gets nothing more, and subscribing to the same name again works.
// - 'multiplex demo': the example page (examples/multiplex, static/multiplex.html) as
//   a person uses it: ann nods, bob disagrees, carl says goodbye and closes.
//
// Every wait has a deadline; the in-page waits resolve on the channels' own events.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const WAIT_MS = 10_000;

/** The transports the channels are checked over, each forced alone. */
export const MULTIPLEX_TRANSPORTS = ['websocket', 'xhr-streaming', 'xhr-polling'];

/**
 * In the page: opens `url` on `transport`, runs the channel script and returns what
 * each channel saw. Runs inside the browser (page.evaluate), so it may only use what the
 * page has: SockJS and WebSocketMultiplex.
 */
async function channelsInPage({ url, transport, ms }) {
  const log = [];
  const waiters = new Set();
  const changed = () => waiters.forEach((w) => w());
  const until = (ready, what) => new Promise((resolve, reject) => {
    const check = () => {
      if (ready()) {
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      }
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`${what}: nothing within ${ms} ms; seen ${JSON.stringify(log)}`));
    }, ms);
    waiters.add(check);
    check();
  });

  const sock = new SockJS(url, null, { transports: [transport] });
  let closed = null;
  sock.addEventListener('close', (e) => { closed = { code: e.code, reason: e.reason }; changed(); });
  let opened = false;
  sock.addEventListener('open', () => { opened = true; changed(); });
  await until(() => opened || closed, 'open');
  if (!opened) throw new Error(`closed before open: ${JSON.stringify(closed)}`);

  const multiplexer = new WebSocketMultiplex(sock);
  const inbox = {};
  function subscribe(name, key) {
    const channel = multiplexer.channel(name);
    inbox[key] = { messages: [], opened: false, closed: false };
    channel.onopen = () => { inbox[key].opened = true; changed(); };
    channel.onmessage = (e) => { inbox[key].messages.push(e.data); log.push([key, e.data]); changed(); };
    channel.onclose = () => { inbox[key].closed = true; changed(); };
    return channel;
  }
  const ann = subscribe('ann', 'ann');
  const bob = subscribe('bob', 'bob');
  const carl = subscribe('carl', 'carl');
  await until(() => ['ann', 'bob', 'carl'].every((k) => inbox[k].opened), 'channels open');

  ann.send('to ann, with, commas');
  bob.send('to bob');
  carl.send('to carl \u2028 \ud83d\ude00 "quoted" </script>');
  ann.send('ann again');
  await until(() => inbox.ann.messages.length >= 2 && inbox.bob.messages.length >= 1
    && inbox.carl.messages.length >= 1, 'echoes');

  // The client unsubscribes bob; a message the client still writes on that name is
  // ignored by the server, and a new subscription to the name is a fresh channel.
  bob.close();
  await until(() => inbox.bob.closed, 'bob closed');
  bob.send('after bob closed');
  const bobAgain = subscribe('bob', 'bob again');
  await until(() => inbox['bob again'].opened, 'bob again open');
  bobAgain.send('bob is back');
  ann.send('ann last');
  await until(() => inbox['bob again'].messages.length >= 1 && inbox.ann.messages.length >= 3,
    'after resubscribing');

  const transportUsed = sock.transport;
  const finished = new Promise((resolve) => sock.addEventListener('close', resolve));
  sock.close();
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, ms))]);
  return { transport: transportUsed, inbox, closed };
}

/** The 'multiplex' group: test_server's /multiplex on each transport. */
export async function runMultiplex(env) {
  const { suite } = env;
  const context = await env.browser.newContext();
  context.setDefaultTimeout(WAIT_MS);
  suite.watch(context);
  try {
    for (const transport of MULTIPLEX_TRANSPORTS) {
      // Each transport on a fresh document of the context's one page.
      await suite.test('multiplex', transport, () => context.withPage(async (page) => {
        await page.goto(`${env.staticOrigin}/`);
        await page.addScriptTag({ url: `${env.staticOrigin}/multiplex.js` });
        await page.waitForFunction(() => typeof window.SockJS === 'function'
          && typeof window.WebSocketMultiplex === 'function');
        const seen = await env.withDeadline(
          page.evaluate(channelsInPage, { url: `${env.serverOrigin}/multiplex`, transport, ms: WAIT_MS }),
          6 * WAIT_MS,
          'the channel script in the page',
        );
        assert.equal(seen.transport, transport, 'transport used');
        assert.deepEqual(seen.inbox.ann.messages, ['to ann, with, commas', 'ann again', 'ann last']);
        assert.deepEqual(seen.inbox.bob.messages, ['to bob']);
        assert.deepEqual(seen.inbox.carl.messages, ['to carl \u2028 \ud83d\ude00 "quoted" </script>']);
        assert.deepEqual(seen.inbox['bob again'].messages, ['bob is back']);
        assert.equal(seen.inbox.bob.closed, true);
        assert.deepEqual(seen.closed, { code: 1000, reason: 'Normal closure' });
      }));
    }
  } finally {
    await env.withDeadline(context.close(), WAIT_MS, 'closing the multiplex context').catch(() => {});
  }
}

/** The 'multiplex demo' check: the example's page over the client's choice and xhr-polling. */
export async function runMultiplexDemo(env, demoOrigin, artifactsDir) {
  const { suite } = env;
  const context = await env.browser.newContext({ viewport: { width: 1100, height: 600 } });
  context.setDefaultTimeout(WAIT_MS);
  suite.watch(context);
  try {
    for (const [check, query, expect] of [['page', '', 'websocket'], ['page over xhr-polling', '?transport=xhr-polling', 'xhr-polling']]) {
      await suite.test('multiplex demo', check, async () => {
        const page = await context.newPage();
        try {
          await page.goto(`${demoOrigin}/${query}`);
          await page.waitText('#status', `open (${expect})`);
          const waitLine = (name, text) => page.waitText(`#${name} .log`, text);
          await waitLine('ann', '[.] Ann says hi!');
          await waitLine('bob', "[.] Bob doesn't agree.");
          await waitLine('carl', '[.] Carl says goodbye!');
          await waitLine('carl', '[*] close');
          for (const name of ['ann', 'bob']) {
            await page.fill(`#${name} input`, 'tea, anyone?');
            await page.press(`#${name} input`, 'Enter');
          }
          await waitLine('ann', '[.] Ann nods: tea, anyone?');
          await waitLine('bob', '[.] Bob says no to: tea, anyone?');
          if (query === '') {
            mkdirSync(artifactsDir, { recursive: true });
            const shot = join(artifactsDir, `multiplex-${env.browser.name}.png`);
            await page.screenshot({ path: shot, fullPage: true });
            console.log(`    screenshot: ${shot}`);
          }
          const lines = async (name) => (await page.innerText(`#${name} .log`)).trim().split('\n');
          assert.deepEqual(await lines('ann'),
            ['[*] open', '[.] Ann says hi!', '[ ] sending tea, anyone?', '[.] Ann nods: tea, anyone?']);
          assert.deepEqual(await lines('carl'), ['[*] open', '[.] Carl says goodbye!', '[*] close']);
        } finally {
          await env.withDeadline(page.close(), WAIT_MS, 'closing the page').catch(() => {});
        }
      });
    }
  } finally {
    await env.withDeadline(context.close(), WAIT_MS, 'closing the multiplex demo context').catch(() => {});
  }
}
