// The result list: one row per event, its expandable JSON detail, and rows arriving from live tail.

import { $, el } from './dom.js';
import { knownLevel } from './format.js';
import { formatTs } from './time.js';

const MAX_ROWS = 1000;

const shownIds = new Set();    // ids currently listed, so tail events are not duplicated
const rowEvents = new WeakMap(); // .hit row -> its LogEvent

export function renderHits(hits, append, emptyText = 'No events match this query in the selected time range.') {
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
}

// Puts a live event on top, briefly highlighted; false when it is already listed.
export function prependHit(ev) {
  if (shownIds.has(ev.id)) return false;
  const box = $('#results');
  const placeholder = box.querySelector('.empty');
  if (placeholder) placeholder.remove();
  shownIds.add(ev.id);
  const row = hitRow(ev);
  row.classList.add('fresh');
  box.prepend(row);
  setTimeout(() => row.classList.remove('fresh'), 1600);
  trimRows();
  return true;
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

function hitRow(ev) {
  const level = knownLevel(ev.level);
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

export function toggleDetail(row, open = !row.classList.contains('open')) {
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

export function onResultsClick(e) {
  const row = e.target.closest('.hit');
  if (!row) return;
  // Don't toggle when the user just selected text in the row.
  if (String(window.getSelection() || '').length) return;
  toggleDetail(row);
}

export function onResultsKey(e) {
  const row = e.target.closest('.hit');
  if (row && e.target === row && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    toggleDetail(row);
  }
}
