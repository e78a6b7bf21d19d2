// Entry point: builds the sidebar and wires the controls, keyboard shortcuts and history to the views.

import { $ } from './dom.js';
import { saveToken } from './errors.js';
import { buildFacets } from './facets.js';
import { initHistogram, redrawHistogram } from './histogram.js';
import { loadFromUrl, run, submit, zoomTo } from './navigation.js';
import { onResultsClick, onResultsKey } from './results.js';
import { loadMore } from './search.js';
import { state, stateFromUrl, urlFor } from './state.js';
import { startTail, stopTail } from './tail.js';
import { MINUTE, isoToInput, parseDuration } from './time.js';

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
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

function onTokenSave() {
  saveToken();
  run();
}

function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function init() {
  buildFacets(submit);
  initHistogram(zoomTo);

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
  $('#token-save').addEventListener('click', onTokenSave);
  $('#token').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') onTokenSave();
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && !isTyping(e.target)) {
      e.preventDefault();
      $('#q').focus();
    }
  });
  window.addEventListener('popstate', loadFromUrl);
  window.addEventListener('resize', debounce(redrawHistogram, 150));

  // Normalise the URL (e.g. add the default range) without adding a history entry.
  Object.assign(state, stateFromUrl());
  history.replaceState(null, '', urlFor(state));
  loadFromUrl();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
