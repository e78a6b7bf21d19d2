// Moves between views: records the form (or a zoom) in the URL and history, then runs the view the URL describes.

import { $ } from './dom.js';
import { showError } from './errors.js';
import { search, showEvent } from './search.js';
import { applyStateToForm, readForm, state, stateFromUrl, urlFor } from './state.js';
import { stopTail } from './tail.js';
import { SECOND, isoSeconds } from './time.js';

// User-initiated search: take the form, record it in history, run it.
export function submit() {
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

export function loadFromUrl() {
  Object.assign(state, stateFromUrl());
  applyStateToForm(state);
  run();
}

export function run() {
  stopTail('');
  document.title = state.q ? `${state.q} · logpipe` : 'logpipe';
  if (state.id) showEvent(state.id);
  else search();
}

// Searches the span dragged across the histogram, rounded out to whole seconds.
export function zoomTo(fromMs, toMs) {
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
