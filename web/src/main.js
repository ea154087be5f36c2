// spamsink dashboard. Every figure comes from the API (docs/api.md); text
// the peer sent (HELO, MAIL FROM, recipients) reaches the DOM only through
// textContent, never as markup. The page polls: stats every POLL_MS, the
// charts and the host table every SLOW_EVERY polls, nothing while hidden.
import uPlot from 'uplot';

const POLL_MS = 5000;
const SLOW_EVERY = 3;
const HOSTS_LIMIT = 50;
const SESSIONS_LIMIT = 100;
const TOKEN_KEY = 'spamsink.token';
const SVGNS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY) || '';
let view = { name: 'overview' };
let generation = 0;
let timer = null;
let tickNo = 0;
let lastSeries = null;
let rateChart = null;
let holdChart = null;
let hostRows = [];
let sortKey = 'sessions';
let sortDir = -1;
let firstChartMarked = false;

class AuthError extends Error {}

async function api(path) {
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const r = await fetch(path, { headers, cache: 'no-store' });
  if (r.status === 401) throw new AuthError('unauthorized');
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (!r.ok) {
    const err = new Error((body && body.message) || 'HTTP ' + r.status);
    err.status = r.status;
    throw err;
  }
  return body;
}

// ---------------------------------------------------------------- format

const fmtInt = (n) => Number(n).toLocaleString('en-US');
const fmtHours = (s) =>
  (Number(s) / 3600).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtSeconds = (s) => Number(s).toLocaleString('en-US', { maximumFractionDigits: 1 });
const fmtTime = (t) => (t ? String(t).replace('T', ' ').replace('Z', ' UTC') : '–');
function fmtDuration(s) {
  if (s < 1) return Math.round(s * 1000) + 'ms';
  if (s < 60) return s + 's';
  if (s < 3600) return s / 60 + 'm';
  return s / 3600 + 'h';
}

function setStat(name, text, raw) {
  for (const el of document.querySelectorAll(`[data-stat="${name}"]`)) {
    el.textContent = text;
    el.dataset.raw = String(raw);
  }
}

function setStatus(text, bad) {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('bad', !!bad);
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

// ---------------------------------------------------------------- stats

function renderStats(s) {
  setStat('messages', fmtInt(s.messages), s.messages);
  setStat('tarpit_hours', fmtHours(s.tarpit_seconds), s.tarpit_seconds);
  for (const el of document.querySelectorAll('[data-stat="tarpit_hours"]')) el.title = fmtSeconds(s.tarpit_seconds) + ' s';
  setStat('unique_hosts', fmtInt(s.unique_hosts), s.unique_hosts);
  setStat('sessions_open', fmtInt(s.sessions_open), s.sessions_open);
  setStat('early_talkers', fmtInt(s.early_talkers), s.early_talkers);
  setStat('trap_hits', fmtInt(s.trap_hits), s.trap_hits);
  setStat('relay_attempts', fmtInt(s.relay_attempts), s.relay_attempts);
  setStat('sessions_total', fmtInt(s.sessions_total), s.sessions_total);
  setStat('since', fmtTime(s.since), s.since);
  $('updated').textContent = 'server time ' + fmtTime(s.now);
}

// ---------------------------------------------------------------- charts

function palette() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  return { fg: v('--fg'), muted: v('--muted'), line: v('--line'), accent: v('--accent'), accent2: v('--accent2'), bar: v('--bar') };
}

function axis(c, extra) {
  return { stroke: c.muted, grid: { stroke: c.line, width: 1 }, ticks: { stroke: c.line, width: 1 }, ...extra };
}

const widthOf = (el) => Math.max(200, Math.floor(el.clientWidth));
const zeroBased = (u, min, max) => [0, Math.max(1, max)];

function markFirstChart() {
  if (firstChartMarked) return;
  firstChartMarked = true;
  performance.mark('spamsink-first-chart');
}

function drawRate(s) {
  const el = $('chart-rate');
  const n = s.connections.length;
  const from = Date.parse(s.from) / 1000;
  const xs = Array.from({ length: n }, (_, i) => from + i * s.step_seconds);
  // Messages first, so the connections line (the test looks for its
  // colour) is drawn on top where the two coincide.
  const data = [xs, s.messages, s.connections];
  if (rateChart && rateChart.data[0].length === n) {
    rateChart.setData(data);
    return;
  }
  if (rateChart) rateChart.destroy();
  const c = palette();
  rateChart = new uPlot(
    {
      width: widthOf(el),
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { x: { time: true }, y: { range: zeroBased } },
      series: [
        {},
        { label: 'messages', stroke: c.accent2, width: 1.5, points: { show: false } },
        { label: 'connections', stroke: c.accent, width: 1.5, points: { show: false } },
      ],
      axes: [axis(c), axis(c, { size: 50 })],
    },
    data,
    el,
  );
  markFirstChart();
}

function drawHold(hold) {
  const el = $('chart-hold');
  const bounds = hold.bounds_seconds;
  const labels = bounds.map((b) => '≤' + fmtDuration(b)).concat('>' + fmtDuration(bounds[bounds.length - 1]));
  const xs = labels.map((_, i) => i);
  const data = [xs, hold.counts];
  if (holdChart && holdChart.data[0].length === xs.length) {
    holdChart.setData(data);
    return;
  }
  if (holdChart) holdChart.destroy();
  const c = palette();
  holdChart = new uPlot(
    {
      width: widthOf(el),
      height: 200,
      scales: { x: { time: false, range: [-0.5, xs.length - 0.5] }, y: { range: zeroBased } },
      series: [
        { label: 'held', value: (u, v) => (v == null ? '–' : labels[v]) },
        {
          label: 'tarpit sessions',
          stroke: c.bar,
          fill: c.bar,
          paths: uPlot.paths.bars({ size: [0.8, 48] }),
          points: { show: false },
        },
      ],
      axes: [
        // Narrow plots label every other bar so the labels never overlap.
        axis(c, {
          splits: () => xs,
          values: (u, splits) => {
            const step = u.bbox.width / devicePixelRatio / xs.length < 44 ? 2 : 1;
            return splits.map((i) => (i % step === 0 ? labels[i] : ''));
          },
          size: 30,
        }),
        axis(c, { size: 50 }),
      ],
    },
    data,
    el,
  );
  markFirstChart();
}

function drawBars(svg, entries) {
  svg.replaceChildren();
  const W = 400;
  const ROW = 22;
  const LABEL_W = 120;
  const COUNT_W = 70;
  const max = Math.max(1, ...entries.map((e) => e[1]));
  svg.setAttribute('viewBox', `0 0 ${W} ${Math.max(1, entries.length) * ROW}`);
  entries.forEach(([label, n], i) => {
    const y = i * ROW;
    const t = document.createElementNS(SVGNS, 'text');
    t.setAttribute('x', '0');
    t.setAttribute('y', String(y + 15));
    t.textContent = label;
    const w = n > 0 ? Math.max(2, ((W - LABEL_W - COUNT_W) * n) / max) : 0;
    const r = document.createElementNS(SVGNS, 'rect');
    r.setAttribute('x', String(LABEL_W));
    r.setAttribute('y', String(y + 4));
    r.setAttribute('height', '14');
    r.setAttribute('width', String(w));
    r.setAttribute('rx', '2');
    const ct = document.createElementNS(SVGNS, 'text');
    ct.setAttribute('x', String(LABEL_W + w + 6));
    ct.setAttribute('y', String(y + 15));
    ct.setAttribute('class', 'count');
    ct.textContent = fmtInt(n);
    svg.append(t, r, ct);
  });
}

function renderSeries(s) {
  lastSeries = s;
  drawRate(s);
  drawHold(s.hold);
  drawBars($('chart-modes'), Object.entries(s.modes));
  const reasons = Object.entries(s.reasons).filter((e) => e[1] > 0).sort((a, b) => b[1] - a[1]);
  drawBars($('chart-reasons'), reasons.length ? reasons : [['no sessions yet', 0]]);
  const per = s.window === 'day' ? 'day' : 'hour';
  $('rate-note').textContent =
    `${fmtInt(s.sessions)} sessions started in the last ${per} (UTC)` + (s.truncated ? ', only the newest counted' : '');
  $('hold-note').textContent = `Tarpit sessions that started in the last ${per}: ${fmtHours(s.hold.tarpit_seconds)} bot hours held.`;
}

// With --db none the totals still work but the history routes answer 503:
// say so where the charts and the table would be, and keep polling stats.
function historyOff(e) {
  if (e.status !== 503) throw e;
  $('rate-note').textContent = e.message;
  $('hold-note').textContent = e.message;
  return false;
}

async function loadSeries() {
  let s;
  try {
    s = await api('/api/v1/series?window=' + encodeURIComponent($('window').value));
  } catch (e) {
    return historyOff(e);
  }
  renderSeries(s);
  return true;
}

// ---------------------------------------------------------------- hosts

const SERVER_ORDER = { sessions: 'sessions', messages: 'messages', tarpit_seconds: 'tarpit_seconds', last_seen: 'last_seen' };
const NUMERIC = new Set(['sessions', 'messages', 'tarpit_seconds']);

async function loadHosts() {
  const order = SERVER_ORDER[sortKey] || 'sessions';
  let r;
  try {
    r = await api(`/api/v1/hosts?limit=${HOSTS_LIMIT}&order=${order}`);
  } catch (e) {
    historyOff(e);
    const tr = document.createElement('tr');
    const td = cell(e.message);
    td.colSpan = 6;
    tr.append(td);
    $('hosts').tBodies[0].replaceChildren(tr);
    return;
  }
  hostRows = r.hosts;
  renderHosts();
}

function renderHosts() {
  const rows = hostRows.slice().sort((a, b) => {
    const x = a[sortKey];
    const y = b[sortKey];
    const d = NUMERIC.has(sortKey) ? x - y : String(x).localeCompare(String(y));
    return d * sortDir;
  });
  const body = $('hosts').tBodies[0];
  const out = rows.map((h) => {
    const tr = document.createElement('tr');
    const ipCell = document.createElement('td');
    ipCell.className = 'mono';
    const a = document.createElement('a');
    a.href = '#/host/' + encodeURIComponent(h.ip);
    a.textContent = h.ip;
    ipCell.append(a);
    tr.append(
      ipCell,
      cell(fmtInt(h.sessions), 'num'),
      cell(fmtInt(h.messages), 'num'),
      cell(fmtSeconds(h.tarpit_seconds), 'num'),
      cell(fmtTime(h.last_seen)),
      cell(h.last_helo, 'mono helo'),
    );
    return tr;
  });
  if (!out.length) {
    const tr = document.createElement('tr');
    const td = cell('no hosts yet');
    td.colSpan = 6;
    tr.append(td);
    out.push(tr);
  }
  body.replaceChildren(...out);
  for (const th of $('hosts').tHead.rows[0].cells) {
    const k = th.firstElementChild.dataset.sort;
    if (k === sortKey) th.setAttribute('aria-sort', sortDir < 0 ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
  }
}

// ---------------------------------------------------------------- one host

async function loadHost(ip) {
  let h;
  try {
    h = await api('/api/v1/hosts/' + encodeURIComponent(ip));
  } catch (e) {
    if (e.status === 404 || e.status === 400) {
      $('host-ip').textContent = ip;
      $('host-facts').replaceChildren();
      $('sessions').tBodies[0].replaceChildren();
      setStatus(e.message, true);
      return;
    }
    throw e;
  }
  const s = await api(`/api/v1/sessions?limit=${SESSIONS_LIMIT}&ip=` + encodeURIComponent(h.ip));
  $('host-ip').textContent = h.ip;
  const facts = [
    ['First seen', fmtTime(h.first_seen)],
    ['Last seen', fmtTime(h.last_seen)],
    ['Sessions', fmtInt(h.sessions)],
    ['Messages', fmtInt(h.messages)],
    ['Recipients', fmtInt(h.recipients)],
    ['Bytes', fmtInt(h.bytes)],
    ['Tarpit seconds', fmtSeconds(h.tarpit_seconds)],
    ['Early talks', fmtInt(h.early_talks)],
    ['Trap hits', fmtInt(h.trap_hits)],
    ['Last HELO', h.last_helo],
  ];
  $('host-facts').replaceChildren(
    ...facts.map(([k, v]) => {
      const d = document.createElement('div');
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      d.append(dt, dd);
      return d;
    }),
  );
  const rows = s.sessions.map((x) => {
    const tr = document.createElement('tr');
    tr.append(
      cell(fmtTime(x.start)),
      cell(x.mode),
      cell(x.listener, 'mono'),
      cell(x.reason),
      cell(fmtSeconds(x.held_seconds), 'num'),
      cell(fmtInt(x.messages), 'num'),
      cell(x.helo, 'mono wrap helo'),
      cell(x.mail_from, 'mono wrap'),
      cell(x.recipients, 'mono wrap'),
    );
    return tr;
  });
  $('sessions').tBodies[0].replaceChildren(...rows);
}

// ---------------------------------------------------------------- loop

function show(name) {
  for (const id of ['login', 'overview', 'host']) $(id).hidden = id !== name;
}

function showLogin(message) {
  generation++;
  clearTimeout(timer);
  show('login');
  setStatus('token needed', true);
  $('login-error').textContent = message || '';
  $('token').focus();
}

async function tick(full) {
  const gen = ++generation;
  clearTimeout(timer);
  if (document.hidden) return;
  try {
    if (view.name === 'host') {
      await loadHost(view.ip);
    } else {
      const jobs = [api('/api/v1/stats').then(renderStats)];
      if (full || tickNo % SLOW_EVERY === 0) jobs.push(loadSeries(), loadHosts());
      await Promise.all(jobs);
    }
    if (gen !== generation) return;
    tickNo++;
    setStatus('live: every ' + POLL_MS / 1000 + ' s');
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof AuthError) {
      showLogin(token ? 'That token was refused.' : '');
      return;
    }
    setStatus('error: ' + e.message + ' (retrying)', true);
  }
  if (gen === generation) timer = setTimeout(() => tick(false), POLL_MS);
}

function route() {
  const m = /^#\/host\/(.+)$/.exec(location.hash);
  if (m) {
    let ip = m[1];
    try { ip = decodeURIComponent(ip); } catch { /* keep it raw: the API says 400 */ }
    view = { name: 'host', ip };
    show('host');
  } else {
    view = { name: 'overview' };
    show('overview');
  }
  tickNo = 0;
  tick(true);
}

function redrawCharts() {
  if (rateChart) rateChart.destroy();
  if (holdChart) holdChart.destroy();
  rateChart = holdChart = null;
  if (lastSeries) renderSeries(lastSeries);
}

function init() {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    route();
  });
  $('window').addEventListener('change', () => {
    loadSeries().catch((e) => setStatus('error: ' + e.message, true));
  });
  for (const b of document.querySelectorAll('#hosts th button')) {
    b.addEventListener('click', () => {
      const k = b.dataset.sort;
      if (k === sortKey) sortDir = -sortDir;
      else {
        sortKey = k;
        sortDir = NUMERIC.has(k) || k === 'last_seen' ? -1 : 1;
      }
      if (SERVER_ORDER[k]) loadHosts().catch((e) => setStatus('error: ' + e.message, true));
      else renderHosts();
    });
  }
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && $('login').hidden) tick(true);
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redrawCharts);
  if (typeof ResizeObserver === 'function') {
    const ro = new ResizeObserver(() => {
      if (rateChart) rateChart.setSize({ width: widthOf($('chart-rate')), height: 220 });
      if (holdChart) holdChart.setSize({ width: widthOf($('chart-hold')), height: 200 });
    });
    ro.observe($('chart-rate'));
    ro.observe($('chart-hold'));
  }
  route();
}

init();
