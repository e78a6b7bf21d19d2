'use strict';

/* ---------- constants ---------- */

const FACET_FIELDS = ['level', 'k8s.namespace', 'k8s.pod', 'k8s.container', 'k8s.node', 'stream', 'source.name'];
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'unknown']);
const DEFAULT_SINCE = '15m';
const PAGE_SIZE = 100;
const FACET_LIMIT = 10;
const MAX_ROWS = 1000;
const RECONNECT_MS = 2000;
const TOKEN_KEY = 'logpipe.token';
const SVG_NS = 'http://www.w3.org/2000/svg';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TICK_STEPS = [
  SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY,
];

const TAIL_LABELS = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', stopped: 'stopped' };

/* ---------- state ---------- */

// What the URL describes: the query, the time range, tail on/off and a permalinked event.
const state = { q: '', since: DEFAULT_SINCE, from: '', to: '', tail: false, id: '' };

let searchCtl = null;          // AbortController of the running search (also used by "Load more")
let searching = false;
let summary = null;            // {total, took_ms} of the result list, or {label} for the permalink view
let histogramData = null;      // last histogram response, kept to redraw on resize
const paging = { params: null, cursor: null, loading: false };
const tail = { ctl: null, timer: null, gen: 0, status: '', count: 0 };
const shownIds = new Set();    // ids currently listed, so tail events are not duplicated
const rowEvents = new WeakMap(); // .hit row -> its LogEvent
const facetBodies = new Map(); // field -> .facet-values element

/* ---------- small helpers ---------- */

const $ = (sel) => document.querySelector(sel);

// createElement with attributes; children may be nodes or strings (inserted as text).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text != null) node.textContent = text;
  return node;
}

const numberFormat = new Intl.NumberFormat('en-US');
const compactFormat = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const fmtNum = (n) => numberFormat.format(n || 0);
const plural = (n, word) => `${fmtNum(n)} ${word}${n === 1 ? '' : 's'}`;

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/* ---------- time helpers (everything is UTC) ---------- */

function parseDuration(text) {
  const m = /^(\d+)([smhdw])$/.exec(text || '');
  if (!m) return null;
  return Number(m[1]) * { s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY }[m[2]];
}

// RFC 3339 with second precision: 2026-11-27T10:00:00Z
const isoSeconds = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// datetime-local value (interpreted as UTC) -> RFC 3339, '' when invalid.
function inputToIso(value) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?/.exec(value || '');
  if (!m) return '';
  const iso = `${m[1]}${m[2] || ':00'}Z`;
  return Number.isNaN(Date.parse(iso)) ? '' : iso;
}

function isoToInput(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '' : new Date(ms).toISOString().slice(0, 19);
}

// Formats an event timestamp (possibly with nanoseconds) without going through local time.
function formatTs(ts) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(ts || '');
  if (!m) {
    const ms = Date.parse(ts);
    if (Number.isNaN(ms)) return { time: String(ts ?? ''), full: String(ts ?? '') };
    return formatTs(new Date(ms).toISOString());
  }
  const frac = m[3] || '';
  return {
    time: `${m[2]}.${frac.padEnd(3, '0').slice(0, 3)}`,
    full: `${m[1]} ${m[2]}${frac ? `.${frac}` : ''} UTC`,
  };
}

function utcLabel(ms) {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/* ---------- URL <-> state ---------- */

function stateFromUrl() {
  const p = new URLSearchParams(location.search);
  const s = {
    q: p.get('q') || '',
    since: p.get('since') || '',
    from: p.get('from') || '',
    to: p.get('to') || '',
    tail: p.get('tail') === '1',
    id: p.get('id') || '',
  };
  if (s.from && s.to) s.since = '';
  else Object.assign(s, { from: '', to: '', since: s.since || DEFAULT_SINCE });
  return s;
}

function urlFor(s) {
  const p = new URLSearchParams();
  if (s.id) {
    p.set('id', s.id);
  } else {
    if (s.q) p.set('q', s.q);
    if (s.from && s.to) {
      p.set('from', s.from);
      p.set('to', s.to);
    } else {
      p.set('since', s.since);
    }
    if (s.tail) p.set('tail', '1');
  }
  return `${location.pathname}?${p}`;
}

function applyStateToForm(s) {
  $('#q').value = s.q;
  const since = $('#since');
  if (s.from && s.to) {
    since.value = 'custom';
    $('#from').value = isoToInput(s.from);
    $('#to').value = isoToInput(s.to);
  } else {
    // Keep unusual relative ranges from a shared URL (e.g. since=30m) selectable.
    if (![...since.options].some((o) => o.value === s.since)) {
      since.add(new Option(`Last ${s.since}`, s.since), since.options[since.options.length - 1]);
    }
    since.value = s.since;
  }
  $('#custom-range').hidden = since.value !== 'custom';
  $('#tail').checked = s.tail;
}

function readForm() {
  const s = { q: $('#q').value.trim(), since: '', from: '', to: '', tail: $('#tail').checked, id: '' };
  const since = $('#since').value;
  if (since !== 'custom') {
    s.since = since;
    return s;
  }
  s.from = inputToIso($('#from').value);
  s.to = inputToIso($('#to').value);
  if (!s.from || !s.to) throw new Error('Custom range: enter both "from" and "to" (UTC).');
  if (Date.parse(s.from) >= Date.parse(s.to)) throw new Error('Custom range: "from" must be before "to".');
  return s;
}

const rangeParams = (s) => (s.from && s.to ? { from: s.from, to: s.to } : { since: s.since });

/* ---------- navigation ---------- */

// User-initiated search: take the form, record it in history, run it.
function submit() {
  let s;
  try {
    s = readForm();
  } catch (err) {
    showError(err.message);
    return;
  }
  navigate(s, true);
}

function navigate(s, push) {
  Object.assign(state, s);
  const url = urlFor(state);
  if (url !== location.pathname + location.search) {
    history[push ? 'pushState' : 'replaceState'](null, '', url);
  }
  run();
}

function loadFromUrl() {
  Object.assign(state, stateFromUrl());
  applyStateToForm(state);
  run();
}

function run() {
  stopTail('');
  document.title = state.q ? `${state.q} · logpipe` : 'logpipe';
  if (state.id) showEvent(state.id);
  else search();
}

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, message, position) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.position = position;
  }
}

function authHeaders() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function apiUrl(path, params = {}) {
  const p = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value != null) p.set(key, value);
  const qs = p.toString();
  return qs ? `${path}?${qs}` : path;
}

async function errorFrom(res) {
  const text = await res.text().catch(() => '');
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: use the raw text
  }
  const message = (body && body.error) || text.trim() || `HTTP ${res.status} ${res.statusText}`;
  const position = body && Number.isInteger(body.position) ? body.position : undefined;
  return new ApiError(res.status, message, position);
}

async function getJson(path, params, signal) {
  const res = await fetch(apiUrl(path, params), {
    headers: { Accept: 'application/json', ...authHeaders() },
    signal,
  });
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

const isAbort = (err) => err && err.name === 'AbortError';

/* ---------- errors, status, auth ---------- */

function reportError(err, q) {
  if (isAbort(err)) return;
  if (err.status === 401) {
    showTokenForm();
    return;
  }
  showError(err.message, err.position, q);
}

// Shows the message; for query syntax errors also the query with a caret under the offending character.
function showError(message, position, q) {
  const box = $('#error');
  box.textContent = '';
  box.append(el('div', { class: 'error-message', text: message }));
  if (Number.isInteger(position) && q) {
    const at = Math.max(0, Math.min(position, q.length));
    box.append(el('pre', { class: 'error-query', text: `${q}\n${' '.repeat(at)}^` }));
  }
  box.hidden = false;
}

function clearError() {
  const box = $('#error');
  box.hidden = true;
  box.textContent = '';
}

function setSearching(on) {
  searching = on;
  updateStatus();
}

function setTailStatus(status) {
  tail.status = status;
  updateStatus();
  renderTotal();
}

function updateStatus() {
  const node = $('#status');
  const key = searching ? 'searching' : tail.status;
  node.textContent = searching ? 'searching…' : TAIL_LABELS[key] || '';
  node.dataset.state = key || 'idle';
}

function showTokenForm() {
  $('#token-msg').textContent = localStorage.getItem(TOKEN_KEY)
    ? 'The saved token was refused. Enter a valid bearer token.'
    : 'This server requires a bearer token.';
  const form = $('#token-form');
  if (form.hidden) {
    form.hidden = false;
    $('#token').focus();
  }
}

function saveToken() {
  const token = $('#token').value.trim();
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  $('#token').value = '';
  $('#token-form').hidden = true;
  run();
}

/* ---------- search ---------- */

// Cancels whatever search is in flight and starts a new one.
function beginRequest() {
  if (searchCtl) searchCtl.abort();
  searchCtl = new AbortController();
  clearError();
  setSearching(true);
  return searchCtl;
}

async function search() {
  const ctl = beginRequest();
  const s = { ...state };
  const params = { q: s.q, ...rangeParams(s) };

  loadFacets(params, ctl.signal);
  const [hitsRes, histRes] = await Promise.allSettled([
    getJson('/api/v1/search', { ...params, limit: PAGE_SIZE }, ctl.signal),
    getJson('/api/v1/histogram', params, ctl.signal),
  ]);
  if (ctl !== searchCtl) return; // superseded by a newer search
  setSearching(false);

  if (hitsRes.status === 'rejected') {
    const err = hitsRes.reason;
    summary = null;
    paging.cursor = null;
    renderHits([], false, '');
    renderHistogram(null);
    renderPartial([]);
    renderTotal();
    reportError(err, s.q);
    // Server-side trouble may be transient; tail can still be useful. Bad queries or auth cannot.
    if (s.tail && err.status !== 400 && err.status !== 401) startTail();
    return;
  }

  const res = hitsRes.value;
  const hist = histRes.status === 'fulfilled' ? histRes.value : null;
  summary = { total: res.total, took_ms: res.took_ms };
  paging.params = params;
  paging.cursor = res.cursor || null;
  renderHits(res.hits || [], false);
  renderHistogram(hist);
  renderPartial([res, hist]);
  renderTotal();
  if (!hist) reportError(histRes.reason, s.q);
  if (s.tail) startTail();
}

async function loadMore() {
  if (!paging.cursor || paging.loading) return;
  paging.loading = true;
  updateMore();
  try {
    const res = await getJson(
      '/api/v1/search',
      { ...paging.params, limit: PAGE_SIZE, cursor: paging.cursor },
      searchCtl && searchCtl.signal,
    );
    paging.cursor = res.cursor || null;
    renderHits(res.hits || [], true);
  } catch (err) {
    reportError(err, paging.params.q);
  } finally {
    paging.loading = false;
    updateMore();
  }
}

// Permalink view: a single event, expanded.
async function showEvent(id) {
  const ctl = beginRequest();
  summary = null;
  paging.cursor = null;
  renderHistogram(null);
  renderPartial([]);
  for (const body of facetBodies.values()) {
    body.textContent = '';
    body.classList.remove('loading');
  }
  try {
    const ev = await getJson(`/api/v1/events/${encodeURIComponent(id)}`, {}, ctl.signal);
    renderHits([ev], false);
    const row = $('#results .hit');
    if (row) toggleDetail(row, true);
    summary = { label: `Event ${id}` };
  } catch (err) {
    if (isAbort(err)) return;
    renderHits([], false, '');
    reportError(err, '');
  } finally {
    if (ctl === searchCtl) {
      setSearching(false);
      renderTotal();
    }
  }
}

/* ---------- summary ---------- */

function renderTotal() {
  const box = $('#total');
  box.textContent = '';
  if (!summary) return;
  if (summary.label) {
    box.append(el('strong', { text: summary.label }), el('a', { href: '/', text: 'back to search' }));
    return;
  }
  box.append(el('strong', { text: plural(summary.total, 'event') }));
  if (summary.took_ms != null) box.append(el('span', { class: 'took', text: ` in ${summary.took_ms} ms` }));
  if (state.tail && tail.status && tail.status !== 'stopped') {
    const label = tail.status === 'live' ? 'live' : TAIL_LABELS[tail.status];
    const text = tail.count ? `${label} · ${fmtNum(tail.count)} new` : label;
    box.append(el('span', { class: 'live', text }));
  }
}

// Warns when some shards did not answer; lists them once even if several responses name them.
function renderPartial(responses) {
  const box = $('#partial');
  const shards = new Map();
  let partial = false;
  for (const res of responses) {
    if (!res) continue;
    partial = partial || Boolean(res.partial);
    for (const f of res.failed_shards || []) shards.set(f.shard, f.error);
  }
  box.hidden = !partial;
  box.textContent = '';
  if (!partial) return;
  box.append(el('strong', { text: 'Partial results' }));
  if (shards.size) {
    const list = [...shards].map(([shard, error]) => (error ? `${shard} (${error})` : shard)).join('; ');
    box.append(` — ${plural(shards.size, 'shard')} failed: ${list}`);
  } else {
    box.append(' — some shards did not respond.');
  }
}

/* ---------- results ---------- */

function renderHits(hits, append, emptyText = 'No events match this query in the selected time range.') {
  const box = $('#results');
  if (!append) {
    box.textContent = '';
    shownIds.clear();
  }
  const placeholder = box.querySelector('.empty');
  if (placeholder) placeholder.remove();

  const frag = document.createDocumentFragment();
  for (const ev of hits) {
    if (!ev || shownIds.has(ev.id)) continue;
    shownIds.add(ev.id);
    frag.append(hitRow(ev));
  }
  box.append(frag);
  if (!box.querySelector('.hit') && emptyText) box.append(el('div', { class: 'empty', text: emptyText }));
  updateMore();
}

function updateMore() {
  const more = $('#more');
  more.hidden = !paging.cursor;
  more.textContent = paging.loading ? 'Loading…' : 'Load more';
}

function hitRow(ev) {
  const level = LEVELS.has(ev.level) ? ev.level : 'unknown';
  const k8s = ev.k8s || {};
  const where = [k8s.namespace, k8s.pod, k8s.container].filter(Boolean).join(' / ') || k8s.node || '';
  const { time, full } = formatTs(ev.ts);
  const message = ev.message == null ? '' : String(ev.message);
  const row = el(
    'div',
    { class: 'hit', dataset: { id: ev.id }, tabindex: '0', 'aria-expanded': 'false' },
    el('span', { class: 'hit-time', title: full, text: time }),
    el('span', { class: `level level-${level}`, text: ev.level || 'unknown' }),
    el('span', { class: 'hit-source', title: where, text: where }),
    el('span', { class: 'hit-message', text: message }),
  );
  rowEvents.set(row, ev);
  return row;
}

function toggleDetail(row, open = !row.classList.contains('open')) {
  const next = row.nextElementSibling;
  const detail = next && next.classList.contains('hit-detail') ? next : null;
  if (open && !detail) row.after(hitDetail(rowEvents.get(row)));
  if (!open && detail) detail.remove();
  row.classList.toggle('open', open);
  row.setAttribute('aria-expanded', String(open));
}

function hitDetail(ev) {
  const json = JSON.stringify(ev, null, 2);
  const copy = el('button', { class: 'copy', type: 'button', text: 'Copy JSON' });
  copy.addEventListener('click', async () => {
    copy.textContent = (await copyText(json)) ? 'Copied' : 'Copy failed';
    setTimeout(() => { copy.textContent = 'Copy JSON'; }, 1500);
  });
  const link = el('a', { class: 'permalink', href: `/?id=${encodeURIComponent(ev.id)}`, text: 'Permalink' });
  return el('div', { class: 'hit-detail' }, el('div', { class: 'hit-actions' }, copy, link), highlightJson(json));
}

// Splits pretty-printed JSON into coloured tokens; every piece goes in as text.
const JSON_TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|\btrue\b|\bfalse\b|\bnull\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

function highlightJson(text) {
  const pre = el('pre', { class: 'json' });
  let last = 0;
  for (const m of text.matchAll(JSON_TOKEN)) {
    if (m.index > last) pre.append(text.slice(last, m.index));
    if (m[1]) {
      pre.append(el('span', { class: m[2] ? 'j-key' : 'j-str', text: m[1] }));
      if (m[2]) pre.append(m[2]);
    } else {
      const cls = m[0] === 'null' ? 'j-null' : m[0] === 'true' || m[0] === 'false' ? 'j-bool' : 'j-num';
      pre.append(el('span', { class: cls, text: m[0] }));
    }
    last = m.index + m[0].length;
  }
  pre.append(text.slice(last));
  return pre;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API unavailable (e.g. plain http): fall back to a hidden textarea.
    const area = el('textarea', { class: 'offscreen' });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

function onResultsClick(e) {
  const row = e.target.closest('.hit');
  if (!row) return;
  // Don't toggle when the user just selected text in the row.
  if (String(window.getSelection() || '').length) return;
  toggleDetail(row);
}

function onResultsKey(e) {
  const row = e.target.closest('.hit');
  if (row && e.target === row && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    toggleDetail(row);
  }
}

/* ---------- facets ---------- */

function buildFacets() {
  const root = $('#facets');
  root.append(el('h2', { text: 'Fields' }));
  for (const field of FACET_FIELDS) {
    const body = el('div', { class: 'facet-values' });
    facetBodies.set(field, body);
    root.append(el('div', { class: 'facet', dataset: { field } }, el('div', { class: 'facet-title', text: field }), body));
  }
}

function loadFacets(params, signal) {
  for (const [field, body] of facetBodies) {
    body.classList.add('loading');
    getJson(`/api/v1/fields/${encodeURIComponent(field)}/values`, { ...params, limit: FACET_LIMIT }, signal)
      .then((res) => renderFacet(field, body, res))
      .catch((err) => {
        if (isAbort(err)) return;
        if (err.status === 401) showTokenForm();
        body.textContent = '';
        // Query errors are already shown by the search; avoid repeating them per field.
        if (err.status !== 400) body.append(el('div', { class: 'facet-empty', text: `error: ${err.message}` }));
      })
      .finally(() => {
        if (!signal.aborted) body.classList.remove('loading');
      });
  }
}

function renderFacet(field, body, res) {
  body.textContent = '';
  const values = res.values || [];
  if (!values.length) {
    body.append(el('div', { class: 'facet-empty', text: 'no values' }));
    return;
  }
  const top = Math.max(1, ...values.map((v) => v.count || 0));
  for (const { value, count } of values) {
    const v = value == null ? '' : String(value);
    const pct = ((100 * (count || 0)) / top).toFixed(1);
    const dot = field === 'level' ? el('i', { class: `dot level-${LEVELS.has(v) ? v : 'unknown'}` }) : null;
    body.append(el(
      'div',
      { class: 'facet-value', dataset: { value: v }, title: `${field}: ${v} (${fmtNum(count)})` },
      el('span', { class: 'fv-name' }, dot, v === '' ? '(empty)' : v),
      el('span', { class: 'fv-count', text: fmtNum(count) }),
      el(
        'span',
        { class: 'fv-actions' },
        el('button', {
          type: 'button', class: 'include', text: '+', title: 'Filter for this value',
          'aria-label': `Filter for ${field}: ${v}`, onclick: () => addFilter(field, v, false),
        }),
        el('button', {
          type: 'button', class: 'exclude', text: '−', title: 'Filter out this value',
          'aria-label': `Filter out ${field}: ${v}`, onclick: () => addFilter(field, v, true),
        }),
      ),
      el('div', { class: 'fv-bar' }, el('span', { style: `width:${pct}%` })),
    ));
  }
}

const quoteValue = (value) => `"${String(value).replace(/[\\"]/g, '\\$&')}"`;

function addFilter(field, value, exclude) {
  const term = `${exclude ? 'NOT ' : ''}${field}:${quoteValue(value)}`;
  const current = $('#q').value.trim();
  $('#q').value = current ? `${current} AND ${term}` : term;
  submit();
}

/* ---------- histogram ---------- */

function niceCeil(n) {
  const base = 10 ** Math.floor(Math.log10(n));
  for (const f of [1, 2, 5, 10]) if (f * base >= n) return f * base;
  return 10 * base;
}

function tickLabel(ms, step, span) {
  const iso = new Date(ms).toISOString();
  if (step >= DAY) return iso.slice(5, 10);
  if (step < MINUTE) return iso.slice(11, 19);
  return span > DAY ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

function renderHistogram(data) {
  histogramData = data;
  const box = $('#histogram');
  box.textContent = '';
  const buckets = (data && data.buckets) || [];
  box.classList.toggle('empty', buckets.length === 0);
  if (!buckets.length) return;

  const width = Math.max(240, Math.floor(box.clientWidth));
  const height = Math.max(80, Math.floor(box.clientHeight));
  const m = { l: 44, r: 10, t: 8, b: 20 };
  const plotW = width - m.l - m.r;
  const plotH = height - m.t - m.b;

  const first = Date.parse(buckets[0].ts);
  const step = data.interval_ms
    || (buckets.length > 1 ? Date.parse(buckets[1].ts) - first : MINUTE);
  const t0 = first;
  const t1 = Date.parse(buckets[buckets.length - 1].ts) + step;
  const span = t1 - t0;
  if (!(span > 0)) return;
  const xAt = (t) => m.l + ((t - t0) / span) * plotW;
  const tAt = (x) => t0 + ((x - m.l) / plotW) * span;
  const yMax = niceCeil(Math.max(1, ...buckets.map((b) => b.count || 0)));
  const baseY = m.t + plotH;

  const root = svgEl('svg', {
    class: 'hist-svg', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'img', 'aria-label': 'Events over time',
  });

  // Horizontal grid with y labels at 0 and the top.
  for (const v of [yMax, yMax / 2]) {
    const y = baseY - (v / yMax) * plotH;
    root.append(svgEl('line', { class: 'grid', x1: m.l, x2: width - m.r, y1: y, y2: y }));
  }
  root.append(svgEl('text', { class: 'axis', x: m.l - 6, y: m.t + 8, 'text-anchor': 'end' }, compactFormat.format(yMax)));
  root.append(svgEl('text', { class: 'axis', x: m.l - 6, y: baseY, 'text-anchor': 'end' }, '0'));

  // Bars; each bucket has a full-height transparent area so its tooltip works even when empty.
  const bw = plotW / buckets.length;
  const gap = bw > 4 ? 1 : 0;
  buckets.forEach((b, i) => {
    const start = Date.parse(b.ts);
    const x = m.l + i * bw;
    const g = svgEl('g', { class: 'bucket' });
    const endLabel = new Date(start + step).toISOString().slice(11, 19);
    g.append(svgEl('title', {}, `${utcLabel(start).replace(' UTC', '')} – ${endLabel} UTC\n${plural(b.count || 0, 'event')}`));
    g.append(svgEl('rect', { class: 'hover', x, y: m.t, width: bw, height: plotH }));
    if (b.count > 0) {
      const h = Math.max(1, (b.count / yMax) * plotH);
      g.append(svgEl('rect', { class: 'bar', x: x + gap / 2, y: baseY - h, width: Math.max(0.5, bw - gap), height: h }));
    }
    root.append(g);
  });

  // Time axis with ticks aligned to round UTC times.
  root.append(svgEl('line', { class: 'baseline', x1: m.l, x2: width - m.r, y1: baseY, y2: baseY }));
  const target = span / Math.max(2, Math.floor(plotW / 110));
  const tickStep = TICK_STEPS.find((s) => s >= target) || Math.ceil(target / DAY) * DAY;
  for (let t = Math.ceil(t0 / tickStep) * tickStep; t <= t1; t += tickStep) {
    const x = xAt(t);
    const anchor = x < m.l + 30 ? 'start' : x > width - m.r - 30 ? 'end' : 'middle';
    root.append(svgEl('line', { class: 'tick', x1: x, x2: x, y1: baseY, y2: baseY + 4 }));
    root.append(svgEl('text', { class: 'axis', x, y: height - 4, 'text-anchor': anchor }, tickLabel(t, tickStep, span)));
  }

  attachBrush(root, { width, m, plotW, plotH, tAt });
  box.append(root);
}

// Drag horizontally across the chart to zoom into the selected span.
function attachBrush(root, { width, m, plotW, plotH, tAt }) {
  const sel = svgEl('rect', { class: 'selection', x: 0, y: m.t, width: 0, height: plotH, visibility: 'hidden' });
  root.append(sel);
  let startX = null;

  const xOf = (e) => {
    const rect = root.getBoundingClientRect();
    const x = ((e.clientX - rect.left) * width) / (rect.width || width);
    return Math.max(m.l, Math.min(m.l + plotW, x));
  };
  const reset = () => {
    startX = null;
    sel.setAttribute('visibility', 'hidden');
  };

  root.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    startX = xOf(e);
    root.setPointerCapture(e.pointerId);
    sel.setAttribute('x', startX);
    sel.setAttribute('width', 0);
    sel.setAttribute('visibility', 'visible');
  });
  root.addEventListener('pointermove', (e) => {
    if (startX == null) return;
    const x = xOf(e);
    sel.setAttribute('x', Math.min(x, startX));
    sel.setAttribute('width', Math.abs(x - startX));
  });
  root.addEventListener('pointerup', (e) => {
    if (startX == null) return;
    const a = Math.min(startX, xOf(e));
    const b = Math.max(startX, xOf(e));
    reset();
    if (b - a >= 3) zoomTo(tAt(a), tAt(b));
  });
  root.addEventListener('pointercancel', reset);
}

function zoomTo(fromMs, toMs) {
  const from = Math.floor(fromMs / SECOND) * SECOND;
  let to = Math.ceil(toMs / SECOND) * SECOND;
  if (to <= from) to = from + SECOND;
  const s = {
    ...state, q: $('#q').value.trim(), since: '', from: isoSeconds(from), to: isoSeconds(to),
    tail: $('#tail').checked, id: '',
  };
  applyStateToForm(s);
  navigate(s, true);
}

/* ---------- live tail ---------- */

function startTail() {
  stopTail('');
  tail.count = 0;
  connectTail(tail.gen, state.q);
}

// Ends the stream and any pending reconnect; `status` is what #status shows afterwards.
function stopTail(status) {
  tail.gen += 1;
  if (tail.ctl) tail.ctl.abort();
  tail.ctl = null;
  clearTimeout(tail.timer);
  setTailStatus(status);
}

async function connectTail(gen, q) {
  const ctl = new AbortController();
  tail.ctl = ctl;
  setTailStatus(tail.status === 'reconnecting' ? 'reconnecting' : 'connecting');
  try {
    const res = await fetch(apiUrl('/api/v1/tail', { q }), {
      headers: { Accept: 'text/event-stream', ...authHeaders() },
      signal: ctl.signal,
      cache: 'no-store',
    });
    if (!res.ok) throw await errorFrom(res);
    if (!res.body) throw new Error('Streaming is not supported by this browser.');
    setTailStatus('live');
    await readSse(res.body, (name, data) => {
      if (gen === tail.gen) onTailMessage(name, data);
    });
    throw new Error('tail stream closed');
  } catch (err) {
    if (ctl.signal.aborted || gen !== tail.gen) return;
    if (err.status === 401 || err.status === 400) {
      // Retrying cannot help: ask for a token or show the query error.
      setTailStatus('stopped');
      reportError(err, q);
      return;
    }
    setTailStatus('reconnecting');
    tail.timer = setTimeout(() => {
      if (gen === tail.gen) connectTail(gen, q);
    }, RECONNECT_MS);
  }
}

// Minimal text/event-stream parser: dispatches (eventName, data) on each blank line.
async function readSse(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let name = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split('\n');
    buffer = lines.pop();
    for (let line of lines) {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) onEvent(name || 'message', data.join('\n'));
        name = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'data') data.push(val);
        else if (field === 'event') name = val;
      }
    }
  }
}

function onTailMessage(name, data) {
  if (name !== 'event' && name !== 'message') return;
  let ev;
  try {
    ev = JSON.parse(data);
  } catch {
    return;
  }
  if (!ev || typeof ev !== 'object' || shownIds.has(ev.id)) return;

  const box = $('#results');
  const placeholder = box.querySelector('.empty');
  if (placeholder) placeholder.remove();
  shownIds.add(ev.id);
  const row = hitRow(ev);
  row.classList.add('fresh');
  box.prepend(row);
  setTimeout(() => row.classList.remove('fresh'), 1600);
  trimRows();
  tail.count += 1;
  renderTotal();
}

// Keeps the list bounded while tailing: drops the oldest rows (and their open details).
function trimRows() {
  const rows = $('#results').getElementsByClassName('hit');
  while (rows.length > MAX_ROWS) {
    const row = rows[rows.length - 1];
    const next = row.nextElementSibling;
    if (next && next.classList.contains('hit-detail')) next.remove();
    shownIds.delete(row.dataset.id);
    row.remove();
  }
}

function onTailToggle() {
  if (state.id) {
    // Leaving the permalink view: tail needs a result list.
    submit();
    return;
  }
  state.tail = $('#tail').checked;
  history.replaceState(null, '', urlFor(state));
  if (state.tail) startTail();
  else stopTail('stopped');
}

/* ---------- time range controls ---------- */

function onSinceChange() {
  const custom = $('#since').value === 'custom';
  $('#custom-range').hidden = !custom;
  if (custom && !($('#from').value && $('#to').value)) {
    // Start the custom range from the range being shown.
    const now = Date.now();
    const span = parseDuration(state.since) || 15 * MINUTE;
    $('#from').value = isoToInput(new Date(now - span).toISOString());
    $('#to').value = isoToInput(new Date(now).toISOString());
  }
  submit();
}

function onCustomChange() {
  if ($('#from').value && $('#to').value) submit();
}

/* ---------- wiring ---------- */

function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function init() {
  buildFacets();

  $('#search').addEventListener('click', submit);
  $('#q').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      submit();
    }
  });
  $('#help-toggle').addEventListener('click', () => {
    const help = $('#help');
    help.hidden = !help.hidden;
    $('#help-toggle').setAttribute('aria-expanded', String(!help.hidden));
  });
  $('#help').addEventListener('click', (e) => {
    const example = e.target.closest('[data-q]');
    if (!example) return;
    $('#q').value = example.dataset.q;
    submit();
  });
  $('#since').addEventListener('change', onSinceChange);
  $('#from').addEventListener('change', onCustomChange);
  $('#to').addEventListener('change', onCustomChange);
  $('#tail').addEventListener('change', onTailToggle);
  $('#results').addEventListener('click', onResultsClick);
  $('#results').addEventListener('keydown', onResultsKey);
  $('#more').addEventListener('click', loadMore);
  $('#token-save').addEventListener('click', saveToken);
  $('#token').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') saveToken();
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && !isTyping(e.target)) {
      e.preventDefault();
      $('#q').focus();
    }
  });
  window.addEventListener('popstate', loadFromUrl);
  window.addEventListener('resize', debounce(() => renderHistogram(histogramData), 150));

  // Normalise the URL (e.g. add the default range) without adding a history entry.
  Object.assign(state, stateFromUrl());
  history.replaceState(null, '', urlFor(state));
  loadFromUrl();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
