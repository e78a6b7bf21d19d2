// What the URL describes (query, time range, live tail, permalinked event) and its round trips through the URL and the form.

import { $ } from './dom.js';
import { inputToIso, isoToInput } from './time.js';

const DEFAULT_SINCE = '15m';

export const state = { q: '', since: DEFAULT_SINCE, from: '', to: '', tail: false, id: '' };

export function stateFromUrl() {
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

export function urlFor(s) {
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

export function applyStateToForm(s) {
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

export function readForm() {
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

export const rangeParams = (s) => (s.from && s.to ? { from: s.from, to: s.to } : { since: s.since });
