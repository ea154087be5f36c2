// The dashboard in a real browser (issue 8): headless Debian chromium,
// driven by npm playwright-core (web/node_modules), against the real
// spamsink binary with a temp store, the API on port 0 and a token file.
//
//   node tests/browser/dashboard.test.mjs   (ctest: browser.dashboard)
//
// Environment: SPAMSINK_BIN, SMTPSEND_BIN, SPAMSINK_WEB (web/, for
// playwright-core), SPAMSINK_SHOTS (where screenshots go), CHROMIUM
// (default /usr/bin/chromium), DASH_MEASURE_SECONDS (the window in which
// API requests are counted, default 15), SPAMSINK_SANITIZED=1 (slower waits).
// Traffic goes only to 127.0.0.0/8. Every wait is bounded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const env = (k, d) => process.env[k] || d;
const BIN = env('SPAMSINK_BIN', resolve('build/bin/spamsink'));
const SMTPSEND = env('SMTPSEND_BIN', resolve('build/bin/smtpsend'));
const WEB = env('SPAMSINK_WEB', resolve('web'));
const SHOTS = env('SPAMSINK_SHOTS', resolve('build'));
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const MEASURE_S = Number(env('DASH_MEASURE_SECONDS', '15'));
const SLOW = /^(1|on|true|yes)$/i.test(env('SPAMSINK_SANITIZED', '0')) ? 4 : 1;
const XSS_HELO = '<script>alert(1)</script>';
const TOKEN = 'dash-test-token-0123456789abcdef';

const { chromium } = createRequire(join(WEB, 'package.json'))('playwright-core');
const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function log(...a) {
  console.log('[dashboard]', ...a);
}

async function until(what, fn, timeoutMs = 10000 * SLOW) {
  const end = Date.now() + timeoutMs;
  let last;
  for (let i = 0; Date.now() < end && i < 10000; i++) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

// ------------------------------------------------------------- the daemon

const tmp = mkdtempSync(join(tmpdir(), 'spamsink-dash-'));
const tokenFile = join(tmp, 'token');
writeFileSync(tokenFile, TOKEN + '\n');
const daemons = [];
let daemonLog = '';

// Starts spamsink with `extra` options on port 0 everywhere; resolves with
// its ports once it logged event=started.
async function startDaemon(extra) {
  const d = { log: '' };
  d.proc = spawn(BIN, ['--sink', '127.0.0.1:0', '--tarpit', '127.0.0.1:0', '--api', '127.0.0.1:0', '--threads', '1',
    '--state-dir', join(tmp, 'var' + daemons.length), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  daemons.push(d);
  d.proc.stderr.on('data', (b) => { d.log += b; if (d === daemons[0]) daemonLog = d.log; });
  d.ports = await until('the started line', () => {
    const sink = /event=listening mode=sink address=127\.0\.0\.1:(\d+)/.exec(d.log);
    const tarpit = /event=listening mode=tarpit address=127\.0\.0\.1:(\d+)/.exec(d.log);
    const api = /event=started .*api=127\.0\.0\.1:(\d+)/.exec(d.log);
    if (d.proc.exitCode !== null) throw new Error('spamsink exited: ' + d.log);
    return sink && tarpit && api ? { sink: +sink[1], tarpit: +tarpit[1], api: +api[1] } : null;
  });
  d.base = `http://127.0.0.1:${d.ports.api}`;
  return d;
}
let browser = null;

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  for (const d of daemons) {
    if (d.proc.exitCode !== null) continue;
    d.proc.kill('SIGTERM');
    await Promise.race([new Promise((r) => d.proc.once('exit', r)), sleep(5000 * SLOW)]);
    if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
  }
  rmSync(tmp, { recursive: true, force: true });
}

let main;
try {
  main = await startDaemon(['--api-token-file', tokenFile, '--db', join(tmp, 'spamsink.db')]);
} catch (e) {
  console.error(e);
  await cleanup();
  process.exit(1);
}
const ports = main.ports;
const BASE = main.base;
log('ports', JSON.stringify(ports));

async function apiGet(path, token = TOKEN) {
  const r = await fetch(BASE + path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
  return { status: r.status, headers: r.headers, body: await r.json() };
}
const stats = async () => (await apiGet('/api/v1/stats')).body;

// ------------------------------------------------------------- the load

// One SMTP dialogue over a raw socket from `from`: each command waits for
// its reply (a line whose 4th byte is a space).
function smtpDialogue(port, from, commands) {
  return new Promise((resolveP, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from });
    const timer = setTimeout(() => { s.destroy(); reject(new Error('smtp dialogue timed out')); }, 10000 * SLOW);
    let buf = '';
    let i = -1;
    const next = () => {
      i++;
      if (i < commands.length) s.write(commands[i] + '\r\n');
    };
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let nl;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (line.length >= 4 && line[3] === ' ') next();
      }
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolveP(i); });
  });
}

// A tarpit connection held open until release() is called.
function holdTarpit(from) {
  const s = net.connect({ host: '127.0.0.1', port: ports.tarpit, localAddress: from });
  s.on('data', () => {});
  s.on('error', () => {});
  return { release: () => new Promise((r) => { s.once('close', r); s.destroy(); }) };
}

async function smtpsend(n, ...binds) {
  const args = ['-p', String(ports.sink), '-s', '2', '-n', String(n), '--no-progress'];
  for (const b of binds) args.push('--bind', b);
  await run(SMTPSEND, [...args, '127.0.0.1'], { timeout: 30000 * SLOW });
}

try {
  // Known load: 12 messages from two hosts, one session from a third host
  // whose HELO is markup, one tarpit hold of about a second from a fourth.
  await smtpsend(12, '127.0.0.2', '127.0.0.3');
  await smtpDialogue(ports.sink, '127.0.0.4', [
    `HELO ${XSS_HELO}`, 'MAIL FROM:<bot@example.test>', 'RCPT TO:<victim@example.test>', 'DATA',
    'Subject: hi\r\n\r\nbody\r\n.', 'QUIT',
  ]);
  const held = holdTarpit('127.0.0.5');
  await until('the tarpit connection to count as open', async () => (await stats()).sessions_open === 1);
  await sleep(1200);
  await held.release();
  await until('the known load in the store', async () => {
    const s = await stats();
    return s.messages === 13 && s.sessions_total === 14 && s.sessions_open === 0 && s.unique_hosts === 4 && s;
  });

  // ----------------------------------------------------------- the API's rules
  const denied = await apiGet('/api/v1/stats', null);
  assert.equal(denied.status, 401, 'the API refuses a request without the token');
  assert.equal((await apiGet('/api/v1/stats', 'wrong-token-wrong-token')).status, 401);

  // ----------------------------------------------------------- the browser
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30000 * SLOW });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  const dialogs = [];
  const problems = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  const apiRequests = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/api/')) apiRequests.push(Date.now()); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.hostname !== '127.0.0.1' || u.port !== String(ports.api)) problems.push('request off the API origin: ' + r.url());
  });

  const first = await page.goto(BASE + '/', { waitUntil: 'load' });
  const csp = first.headers()['content-security-policy'] || '';
  assert.match(csp, /script-src 'self'(;|$)/, 'CSP allows only the page\'s own script');
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, 'CSP allows no inline script or style');
  assert.match(csp, /default-src 'none'/);

  // Token flow: the page asks, a wrong token is refused, the right one opens it.
  await page.waitForSelector('#login:not([hidden])', { timeout: 10000 * SLOW });
  await page.fill('#token', 'not-the-token-not-the-token');
  await page.click('#login button');
  await until('the page to refuse a wrong token', async () =>
    (await page.textContent('#login-error')).includes('refused'));
  await page.fill('#token', TOKEN);
  await page.click('#login button');
  await page.waitForSelector('#overview:not([hidden])', { timeout: 10000 * SLOW });

  // Weight and time to first chart: a reload with the cache off (the token
  // stays in sessionStorage), bytes as Chromium counts them on the wire.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let wireBytes = 0;
  const assetBytes = {};
  const urls = {};
  cdp.on('Network.responseReceived', (e) => { urls[e.requestId] = new URL(e.response.url).pathname; });
  cdp.on('Network.loadingFinished', (e) => {
    wireBytes += e.encodedDataLength;
    assetBytes[urls[e.requestId] || '?'] = e.encodedDataLength;
  });
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => performance.getEntriesByName('spamsink-first-chart').length > 0, null,
    { timeout: 15000 * SLOW });
  const firstChartMs = await page.evaluate(() => performance.getEntriesByName('spamsink-first-chart')[0].startTime);
  await sleep(300);
  const loadBytes = wireBytes;
  const loadAssets = { ...assetBytes };
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });

  // ----------------------------------------------------------- numbers = API
  const s0 = await stats();
  const shown = async () => page.evaluate(() => {
    const out = {};
    for (const el of document.querySelectorAll('[data-stat]')) out[el.dataset.stat] = { text: el.textContent, raw: el.dataset.raw };
    return out;
  });
  const fmtInt = (n) => Number(n).toLocaleString('en-US');
  const fmtHours = (sec) => (sec / 3600).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const expectStats = (v, s) => {
    for (const k of ['messages', 'unique_hosts', 'sessions_open', 'early_talkers', 'trap_hits', 'relay_attempts', 'sessions_total']) {
      assert.equal(v[k].raw, String(s[k]), `${k}: the page's value is the API's`);
      assert.equal(v[k].text, fmtInt(s[k]), `${k}: shown as ${fmtInt(s[k])}`);
    }
    assert.equal(v.tarpit_hours.raw, String(s.tarpit_seconds));
    assert.equal(v.tarpit_hours.text, fmtHours(s.tarpit_seconds));
    assert.equal(v.since.raw, s.since);
  };
  await until('the stats on the page', async () => (await shown()).messages.raw === '13');
  expectStats(await shown(), s0);
  assert.equal(s0.messages, 13);
  assert.ok(s0.tarpit_seconds >= 1, 'the tarpit held about a second');

  // ----------------------------------------------------------- charts drew
  const series = (await apiGet('/api/v1/series?window=hour')).body;
  assert.equal(series.connections.length, 60);
  assert.equal(series.connections.reduce((a, b) => a + b, 0), 14, 'every session is in the hour');
  assert.equal(series.messages.reduce((a, b) => a + b, 0), 13);
  assert.equal(series.modes.sink, 13);
  assert.equal(series.modes.tarpit, 1);
  assert.equal(series.hold.counts.reduce((a, b) => a + b, 0), 1);
  // Pixels in the series colour: the lines and bars were drawn, not just axes.
  const inked = (sel) => page.evaluate((sel) => {
    const root = document.querySelector(sel);
    const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(accent);
    const [r, g, b] = [1, 2, 3].map((i) => parseInt(m[i], 16));
    let hits = 0;
    let any = 0;
    for (const c of root.querySelectorAll('canvas')) {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0) any++;
        if (d[i + 3] > 200 && Math.abs(d[i] - r) < 12 && Math.abs(d[i + 1] - g) < 12 && Math.abs(d[i + 2] - b) < 12) hits++;
      }
    }
    return { hits, any };
  }, sel);
  const rateInk = await inked('#chart-rate');
  const holdInk = await inked('#chart-hold');
  assert.ok(rateInk.any > 0 && rateInk.hits > 10, 'the rate chart drew its connections line: ' + JSON.stringify(rateInk));
  assert.ok(holdInk.hits > 50, 'the hold histogram drew a bar: ' + JSON.stringify(holdInk));
  const bars = await page.evaluate(() => Object.fromEntries(['chart-modes', 'chart-reasons'].map((id) => [id,
    [...document.querySelectorAll(`#${id} rect`)].map((r) => ({
      label: r.previousElementSibling.textContent, width: +r.getAttribute('width'), count: r.nextElementSibling.textContent,
    }))])));
  assert.deepEqual(bars['chart-modes'].map((b) => [b.label, b.count]), [['sink', '13'], ['tarpit', '1'], ['relay', '0']]);
  assert.ok(bars['chart-modes'][0].width > bars['chart-modes'][1].width && bars['chart-modes'][1].width > 0);
  const reasonsShown = Object.fromEntries(bars['chart-reasons'].map((b) => [b.label, b.count]));
  const reasonsApi = Object.fromEntries(Object.entries(series.reasons).filter((e) => e[1] > 0).map(([k, v]) => [k, String(v)]));
  assert.deepEqual(reasonsShown, reasonsApi, 'end reasons as the API counts them');
  await page.selectOption('#window', 'day');
  await until('the day window', async () => (await page.textContent('#rate-note')).includes('last day'));

  // ----------------------------------------------------------- hosts, no injection
  const hostsApi = (await apiGet('/api/v1/hosts?limit=50&order=sessions')).body.hosts;
  const table = async () => page.$$eval('#hosts tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  await until('the hosts table', async () => (await table()).length === hostsApi.length);
  const xssRow = (await table()).find((r) => r[0] === '127.0.0.4');
  assert.ok(xssRow, 'the markup-HELO host is listed');
  assert.equal(xssRow[5], XSS_HELO, 'the HELO shows literally, as text');
  assert.equal(await page.evaluate(() => document.querySelectorAll('script').length), 1, 'no script element was injected');
  // Sorting: messages descending, then ascending.
  await page.click('#hosts th button[data-sort="messages"]');
  await until('sorted by messages', async () =>
    (await page.getAttribute('#hosts th:nth-child(3)', 'aria-sort')) === 'descending');
  let msgs = (await table()).map((r) => Number(r[2].replace(/,/g, '')));
  assert.deepEqual(msgs, msgs.slice().sort((a, b) => b - a));
  await page.click('#hosts th button[data-sort="messages"]');
  await until('ascending', async () => (await page.getAttribute('#hosts th:nth-child(3)', 'aria-sort')) === 'ascending');
  msgs = (await table()).map((r) => Number(r[2].replace(/,/g, '')));
  assert.deepEqual(msgs, msgs.slice().sort((a, b) => a - b));
  await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });

  // The host's page and its sessions: the HELO again only as text.
  await page.click('#hosts a[href="#/host/127.0.0.4"]');
  await page.waitForSelector('#host:not([hidden])');
  await until('the host page', async () => (await page.$$('#sessions tbody tr')).length === 1);
  assert.equal(await page.textContent('#host-ip'), '127.0.0.4');
  assert.equal(await page.textContent('#sessions td.helo'), XSS_HELO);
  const facts = await page.$$eval('#host-facts div', (ds) => Object.fromEntries(ds.map((d) => [d.children[0].textContent, d.children[1].textContent])));
  assert.equal(facts['Last HELO'], XSS_HELO);
  assert.equal(facts.Sessions, '1');
  assert.equal(facts.Messages, '1');
  await page.screenshot({ path: join(SHOTS, 'dashboard-host.png'), fullPage: true });
  await page.click('text=all hosts');
  await page.waitForSelector('#overview:not([hidden])');

  // ----------------------------------------------------------- live update
  // A mark on the window: a reload would drop it.
  await page.evaluate(() => { window.spamsinkTestMark = 'still-here'; });
  const held2 = holdTarpit('127.0.0.6');
  await smtpsend(5, '127.0.0.2');
  await until('the page to show the new load without a reload', async () => {
    const v = await shown();
    return v.messages.raw === '18' && v.sessions_open.raw === '1';
  }, 20000 * SLOW);
  expectStats(await shown(), await stats());
  await held2.release();
  assert.equal(await page.evaluate(() => window.spamsinkTestMark), 'still-here', 'no reload happened');

  // ----------------------------------------------------------- API load
  await page.selectOption('#window', 'hour');
  const t0 = Date.now();
  const before = apiRequests.length;
  await sleep(MEASURE_S * 1000);
  const perMinute = ((apiRequests.length - before) * 60000) / (Date.now() - t0);

  // ----------------------------------------------------------- phone, dark
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', deviceScaleFactor: 2 });
  await phone.addInitScript((t) => sessionStorage.setItem('spamsink.token', t), TOKEN);
  const pp = await phone.newPage();
  pp.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  pp.on('pageerror', (e) => problems.push('pageerror (phone): ' + e.message));
  await pp.goto(BASE + '/');
  await pp.waitForFunction(() => performance.getEntriesByName('spamsink-first-chart').length > 0, null, { timeout: 15000 * SLOW });
  const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page fits a phone's width (overflow ${overflow}px)`);
  const bg = await pp.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(bg, 'rgb(246, 247, 249)', 'the dark scheme applies');
  await pp.screenshot({ path: join(SHOTS, 'dashboard-phone-dark.png'), fullPage: true });

  // ----------------------------------------------------------- --db none
  // Totals only: the page shows them and says where the history would be.
  await phone.close();
  const bare = await startDaemon(['--db', 'none']);
  const bp = await context.newPage();
  bp.on('pageerror', (e) => problems.push('pageerror (db none): ' + e.message));
  await bp.goto(bare.base + '/');
  await bp.waitForSelector('#overview:not([hidden])', { timeout: 10000 * SLOW });
  const bareStats = await (await fetch(bare.base + '/api/v1/stats')).json();
  await until('the totals with --db none', async () =>
    (await bp.getAttribute('[data-stat="messages"]', 'data-raw')) === String(bareStats.messages));
  await until('the history-off note', async () => (await bp.textContent('#rate-note')).includes('--db none'));
  assert.match(await bp.textContent('#hosts tbody'), /--db none/);
  await bp.close();

  assert.deepEqual(dialogs, [], 'no alert ran');
  assert.deepEqual(problems.filter((p) => !/401 \(Unauthorized\)/.test(p)), [], 'no script error, CSP violation or off-origin request');

  const kb = (n) => (n / 1024).toFixed(1);
  log(`page weight: ${kb(loadBytes)} KB on the wire for the first load (cache off), per resource ` +
    JSON.stringify(Object.fromEntries(Object.entries(loadAssets).map(([k, v]) => [k, kb(v) + ' KB']))));
  log(`time to first chart: ${firstChartMs.toFixed(0)} ms after navigation start (headless chromium)`);
  log(`API load: ${perMinute.toFixed(1)} requests/min from one open dashboard (counted over ${MEASURE_S} s)`);
  assert.ok(perMinute > 0 && perMinute <= 30, 'polling stays light');
  log('ok');
} catch (e) {
  console.error(e);
  console.error('--- spamsink log (tail) ---\n' + daemonLog.split('\n').slice(-30).join('\n'));
  process.exitCode = 1;
} finally {
  await cleanup();
}
