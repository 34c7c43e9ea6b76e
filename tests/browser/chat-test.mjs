// The chat demo (examples/chat, static/chat.html) as a person uses it: two pages join
// the same room under two names, each sends a line, and both see both lines, the
// join notice and each other in the room list. The screenshot of the first page is
// saved as an artifact (target/browser-artifacts/chat.png) for people to look at;
// the assertions are on the pages' text, never on pixels, so fonts and rendering
// differences between machines cannot fail the test.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const WAIT_MS = 10_000;

/** Runs the chat check against the chat example already listening at `chatOrigin`. */
export async function runChat(env, chatOrigin, artifactsDir) {
  const { suite } = env;
  const context = await env.browser.newContext({ viewport: { width: 1000, height: 720 } });
  context.setDefaultTimeout(WAIT_MS);
  suite.watch(context);
  // A room of each browser's own: the chat example runs on for the next browser.
  const room = `browser-test-${env.browser.name}`;
  try {
    await suite.test('chat demo', 'two pages chat', async () => {
      async function enter(name) {
        const page = await context.newPage();
        await page.goto(`${chatOrigin}/`);
        await page.fill('#name', name);
        await page.fill('#room', room);
        await page.click('#join button');
        await page.waitText('#status', `${name} in ${room} (`);
        return page;
      }
      async function say(page, text) {
        await page.fill('#text', text);
        await page.click('#say button');
      }

      const alice = await enter('alice');
      const bob = await enter('bob');
      // Alice sees bob come in; both lists hold both names.
      await alice.waitText('#log', 'bob joined');
      for (const page of [alice, bob]) {
        await page.waitText('#people li', 'alice');
        await page.waitText('#people li', 'bob');
      }
      await say(alice, 'hello from alice');
      await bob.waitText('#log', 'alice: hello from alice');
      await say(bob, 'hi alice, bob here');
      for (const page of [alice, bob]) {
        await page.waitText('#log', 'bob: hi alice, bob here');
      }
      // The stats panel has been filled from /stats at least once.
      await alice.waitText('#stats', 'sessions');

      mkdirSync(artifactsDir, { recursive: true });
      const shot = join(artifactsDir, `chat-${env.browser.name}.png`);
      await alice.screenshot({ path: shot, fullPage: true });

      const aliceLog = await alice.innerText('#log');
      const bobLog = await bob.innerText('#log');
      assert.match(aliceLog, /bob joined/);
      assert.match(aliceLog, /alice: hello from alice[\s\S]*bob: hi alice, bob here/);
      assert.match(bobLog, /alice: hello from alice[\s\S]*bob: hi alice, bob here/);
      assert.deepEqual(await alice.allInnerTexts('#people li'), ['alice', 'bob']);
      assert.deepEqual(await bob.allInnerTexts('#people li'), ['alice', 'bob']);
      assert.equal(await alice.innerText('#status'), `alice in ${room} (websocket)`);
      assert.match(await alice.innerText('#stats'), /chat/);
      console.log(`    screenshot: ${shot}`);
    });

    await suite.test('chat demo', 'live stats charts', async () => {
      const page = await context.newPage();
      await page.goto(`${chatOrigin}/stats.html`);
      // Three samples from /stats, one a second, each drawn.
      await page.waitText('#samples', /samples: ([3-9]|\d\d)/);
      const legend = await page.innerText('#legend');
      assert.match(legend, /chat/);
      assert.match(legend, /echo/);
      // Every chart has lines on it: pixels in a service's colour.
      const inked = await page.evaluate(() => ['sessions_active', 'connections_ps', 'packets_sent_ps', 'packets_recv_ps']
        .map((id) => {
          const c = document.getElementById(id);
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let coloured = 0;
          for (let i = 0; i < data.length; i += 4) {
            const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
            if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured += 1;
          }
          return coloured;
        }));
      for (const n of inked) assert.ok(n > 0, `a chart has no line: ${inked}`);
      mkdirSync(artifactsDir, { recursive: true });
      const shot = join(artifactsDir, `stats-${env.browser.name}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`    screenshot: ${shot}`);
    });
  } finally {
    await env.withDeadline(context.close(), WAIT_MS, 'closing the chat context').catch(() => {});
  }
}
