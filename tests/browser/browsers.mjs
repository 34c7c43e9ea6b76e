// The browsers of the suite and the small page API the checks use.
//
// Both browsers are the ones Debian installs (/usr/bin/chromium and
// /usr/bin/firefox-esr; CHROMIUM= and FIREFOX= name others), never a downloaded one,
// and both are driven by puppeteer-core: Chromium over the DevTools protocol (CDP),
// Firefox over WebDriver BiDi, the protocol a stock Firefox speaks (it needs no
// driver binary). The checks see neither: they get a Context and Pages from here,
// with the handful of methods they need (goto, evaluate, fill, click, waitText, ...),
// so every check is written once and runs unchanged in each browser.
//
// Each browser starts from a fresh, empty profile that puppeteer creates in the
// temporary folder and removes on close. Firefox's profile also gets the preferences
// below, with its background services off (remote settings, telemetry, updates,
// captive-portal and connectivity probes, safe browsing, normandy, push, prefetch),
// and Firefox runs with MOZ_DISABLE_NONLOCAL_CONNECTIONS=1; Chromium gets its
// switches for the same and resolves no host name but localhost. So the only
// connections either makes are the tests' own, to 127.0.0.1 (checked with strace:
// no DNS query, no connection elsewhere).

import { appendFileSync } from 'node:fs';

import puppeteer from 'puppeteer-core';

/**
 * What differs between the browsers, beyond the protocol. `htmlfileWorks`: whether
 * sockjs-client's plain `htmlfile` transport connects from an ordinary page of the
 * server's origin (see htmlfile-test.mjs).
 */
export const BROWSERS = {
  chromium: { htmlfileWorks: true },
  firefox: { htmlfileWorks: false },
};

// No sandbox as root, no GPU, and nothing that would try to reach the internet: its
// background services off, no proxy, and every host name but localhost unresolvable
// (the tests use 127.0.0.1 and localhost only), so that whatever is left of those
// services (sign-in, autofill, update checks) cannot even look a name up.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-proxy-server', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

// Where a service must have some address, it gets a closed port of the loopback
// (9, discard): refused at once, and never anything off this machine.
const NOWHERE = 'http://127.0.0.1:9/';

/** Firefox preferences that keep a fresh profile quiet and on the loopback. */
export const FIREFOX_PREFS = {
  // Remote settings (blocklists, certificates, experiments) would be fetched at start
  // and retried on failure.
  'services.settings.server': NOWHERE,
  'services.settings.poll_interval': 86400 * 365,
  'security.remote_settings.crlite_filters.enabled': false,
  'security.remote_settings.intermediates.enabled': false,
  'extensions.blocklist.enabled': false,
  // Telemetry, health reports and studies.
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': NOWHERE,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.healthreport.documentServerURI': NOWHERE,
  'app.normandy.enabled': false,
  'app.normandy.api_url': '',
  'app.shield.optoutstudies.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'browser.ping-centre.telemetry': false,
  'browser.discovery.enabled': false,
  // Updates of the browser, its add-ons, search engines and plugins.
  'app.update.auto': false,
  'app.update.disabledForTesting': true,
  'app.update.checkInstallTime': false,
  'extensions.update.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.systemAddon.update.url': NOWHERE,
  'extensions.getAddons.cache.enabled': false,
  'extensions.webservice.discoverURL': NOWHERE,
  'browser.search.update': false,
  'browser.region.update.enabled': false,
  'browser.region.network.url': '',
  'media.gmp-manager.url': NOWHERE,
  'media.gmp-gmpopenh264.enabled': false,
  'media.gmp-widevinecdm.enabled': false,
  // Captive portal and connectivity probes, time servers, DNS over HTTPS, proxies.
  'network.captive-portal-service.enabled': false,
  'captivedetect.canonicalURL': '',
  'network.connectivity-service.enabled': false,
  'network.sntp.pools': '',
  'network.trr.mode': 5,
  'network.proxy.type': 0,
  // Safe browsing lists and certificate status (OCSP) requests.
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.google.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'security.OCSP.enabled': 0,
  // Web push, geolocation lookups, accounts and sync.
  'dom.push.enabled': false,
  'dom.push.connection.enabled': false,
  'dom.push.serverURL': '',
  'geo.provider.network.url': '',
  'identity.fxaccounts.enabled': false,
  // Prefetching, speculative connections and the new tab page's feeds.
  'network.prefetch-next': false,
  'network.dns.disablePrefetch': true,
  'network.predictor.enabled': false,
  'network.http.speculative-parallel-limit': 0,
  'browser.newtabpage.enabled': false,
  'browser.newtabpage.activity-stream.feeds.system.topstories': false,
  'browser.newtabpage.activity-stream.feeds.topsites': false,
  'browser.startup.page': 0,
  'browser.startup.homepage': 'about:blank',
  // Pages open as windows of their own (Context.newPage), so none should be a
  // background tab; should one be, its timers (sockjs-client's polls, the in-page
  // deadlines) keep their pace instead of slowing to one a second.
  'dom.min_background_timeout_value': 4,
  'dom.min_background_timeout_value_without_budget_throttling': 4,
  'dom.timeout.enable_budget_timer_throttling': false,
};

/** Starts `name` ('chromium' or 'firefox'); resolves with a Browser. */
export async function launch(name, ms) {
  // run.mjs handles the signals; puppeteer still kills the browser when node exits.
  const common = {
    headless: true, timeout: ms, protocolTimeout: ms,
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
  };
  let raw;
  if (name === 'chromium') {
    raw = await puppeteer.launch({
      browser: 'chrome',
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      ...common,
    });
  } else if (name === 'firefox') {
    raw = await puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
      extraPrefsFirefox: FIREFOX_PREFS,
      // Firefox's own switch (Mozilla's test harnesses set it) that refuses every
      // connection off this machine; it also lets services.settings.server above
      // apply, which release builds otherwise ignore.
      env: { ...process.env, MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1' },
      ...common,
    });
  } else {
    throw new Error(`no browser called ${name}`);
  }
  // Like the servers' (servers.mjs): scripts/test-browser kills it if node is killed.
  const pid = raw.process()?.pid;
  if (process.env.BROWSER_PIDFILE && pid) appendFileSync(process.env.BROWSER_PIDFILE, `${pid}\n`);
  return new Browser(name, raw);
}

export class Browser {
  constructor(name, raw) {
    this.name = name;
    this.raw = raw;
    Object.assign(this, BROWSERS[name]);
  }

  /** e.g. "firefox 153.8.0" or "chromium 156.0.8078.129". */
  async version() {
    const v = await this.raw.version();
    return `${this.name} ${v.replace(/^[^/]*\//, '')}`;
  }

  /** A fresh context: its own cookie jar and storage. `viewport` for every page. */
  async newContext({ viewport } = {}) {
    return new Context(await this.raw.createBrowserContext(), viewport);
  }

  close() {
    return this.raw.close();
  }
}

export class Context {
  constructor(raw, viewport) {
    this.raw = raw;
    this.viewport = viewport ?? null;
    this.ms = 10_000;
    this.watchers = [];
  }

  /** The deadline of every wait and navigation of this context's pages. */
  setDefaultTimeout(ms) {
    this.ms = ms;
  }

  /** `fn(rawPage)` is called with every page opened from now on. */
  onPage(fn) {
    this.watchers.push(fn);
  }

  async newPage() {
    // A window of its own: a page in a background tab gets no animation frames (on
    // which clicks wait) and slowed timers, and the checks keep several pages open.
    const raw = await this.raw.newPage({ type: 'window' });
    raw.setDefaultTimeout(this.ms);
    raw.setDefaultNavigationTimeout(this.ms);
    if (this.viewport) await raw.setViewport(this.viewport);
    for (const fn of this.watchers) fn(raw);
    return new Page(raw, this.ms);
  }

  /**
   * Runs `body(page)` on the context's reusable page, opened on first use; `body`
   * loads what it needs into it first, so each call starts on a fresh document at
   * the cost of a navigation, not of a new window. A page whose body threw is closed
   * (it may be stuck), and the next call gets a new one.
   */
  async withPage(body) {
    this.reused ??= await this.newPage();
    try {
      return await body(this.reused);
    } catch (err) {
      const failed = this.reused;
      this.reused = null;
      await deadline(failed.close(), this.ms).catch(() => {});
      throw err;
    }
  }

  /** The cookies the context holds for the host of `origin` (any port, as cookies go). */
  async cookies(origin) {
    const host = new URL(origin).hostname;
    return (await this.raw.cookies()).filter((c) => c.domain.replace(/^\./, '') === host);
  }

  close() {
    return this.raw.close();
  }
}

/** `promise`, or a rejection after `ms`. */
function deadline(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Is any element matching `selector` holding `text` (substring, or RegExp source)? */
function hasText(selector, text, isRegExp) {
  const want = isRegExp ? new RegExp(text) : null;
  return [...document.querySelectorAll(selector)].some((e) => {
    const got = e.textContent.replace(/\s+/g, ' ');
    return want ? want.test(got) : got.includes(text);
  });
}

export class Page {
  constructor(raw, ms) {
    this.raw = raw;
    this.ms = ms;
  }

  async goto(url) {
    await this.raw.goto(url, { waitUntil: 'load', timeout: this.ms });
  }

  async addScriptTag({ url }) {
    await this.raw.addScriptTag({ url });
  }

  /**
   * Resolves once `fn(arg)` is truthy in the page, asked now and after every change of
   * the document (not at animation frames, which a background tab does not get).
   */
  async waitForFunction(fn, arg) {
    // Most often it is true already (a loaded page's scripts have run): one evaluate
    // is much cheaper than installing puppeteer's poller in the page.
    if (await this.raw.evaluate(fn, arg)) return;
    await this.raw.waitForFunction(fn, { timeout: this.ms, polling: 'mutation' }, arg);
  }

  evaluate(fn, arg) {
    return this.raw.evaluate(fn, arg);
  }

  /**
   * Resolves once an element matching `selector` holds `text` (a string or a RegExp);
   * re-checked on every change of the document.
   */
  async waitText(selector, text) {
    const isRegExp = text instanceof RegExp;
    try {
      await this.raw.waitForFunction(hasText, { timeout: this.ms, polling: 'mutation' },
        selector, isRegExp ? text.source : text, isRegExp);
    } catch (err) {
      const seen = await this.raw.$$eval(selector, (els) => els.map((e) => e.textContent))
        .catch(() => []);
      throw new Error(`no ${selector} holding ${text} within ${this.ms} ms (seen: ${JSON.stringify(seen).slice(0, 300)}): ${err.message}`);
    }
  }

  /** Replaces the value of the input `selector` with `text`, typed as keys. */
  async fill(selector, text) {
    await this.raw.$eval(selector, (e) => { e.value = ''; });
    await this.raw.type(selector, text);
  }

  async click(selector) {
    await this.raw.click(selector);
  }

  async press(selector, key) {
    await this.raw.focus(selector);
    await this.raw.keyboard.press(key);
  }

  innerText(selector) {
    return this.raw.$eval(selector, (e) => e.innerText);
  }

  allInnerTexts(selector) {
    return this.raw.$$eval(selector, (els) => els.map((e) => e.innerText));
  }

  async screenshot({ path, fullPage }) {
    await this.raw.screenshot({ path, fullPage });
  }

  close() {
    return this.raw.close();
  }
}
