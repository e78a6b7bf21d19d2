// What the page says about the current view: #status (searching, live tail state), #total (events, timing, new tail events) and #partial (failed shards).

import { $, el } from './dom.js';
import { fmtNum, plural } from './format.js';
import { state } from './state.js';

const TAIL_LABELS = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', stopped: 'stopped' };

let searching = false;
let summary = null;            // {total, took_ms} of the result list, or {label} for the permalink view
const tail = { status: '', count: 0 };

export function setSearching(on) {
  searching = on;
  updateStatus();
}

export function setSummary(value) {
  summary = value;
}

export const tailStatus = () => tail.status;

export function setTailStatus(status) {
  tail.status = status;
  updateStatus();
  renderTotal();
}

export function resetTailCount() {
  tail.count = 0;
}

export function countTailEvent() {
  tail.count += 1;
  renderTotal();
}

function updateStatus() {
  const node = $('#status');
  const key = searching ? 'searching' : tail.status;
  node.textContent = searching ? 'searching…' : TAIL_LABELS[key] || '';
  node.dataset.state = key || 'idle';
}

export function renderTotal() {
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
export function renderPartial(responses) {
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
