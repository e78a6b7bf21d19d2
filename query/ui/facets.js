// The field values sidebar: top values of a few fields for the current query, each with buttons that add a filter for it.

import { getJson, isAbort } from './api.js';
import { $, el } from './dom.js';
import { showTokenForm } from './errors.js';
import { fmtNum, knownLevel } from './format.js';

const FACET_FIELDS = ['level', 'k8s.namespace', 'k8s.workload', 'k8s.labels.app', 'k8s.pod', 'k8s.container', 'k8s.node', 'stream', 'source.name'];
const FACET_LIMIT = 10;

const facetBodies = new Map(); // field -> .facet-values element
let onFilter = () => {};

// Builds the sidebar once; `filtered` runs the query after a filter was added to #q.
export function buildFacets(filtered) {
  onFilter = filtered;
  const root = $('#facets');
  root.append(el('h2', { text: 'Fields' }));
  for (const field of FACET_FIELDS) {
    const body = el('div', { class: 'facet-values' });
    facetBodies.set(field, body);
    root.append(el('div', { class: 'facet', dataset: { field } }, el('div', { class: 'facet-title', text: field }), body));
  }
}

export function loadFacets(params, signal) {
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

export function clearFacets() {
  for (const body of facetBodies.values()) {
    body.textContent = '';
    body.classList.remove('loading');
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
    const dot = field === 'level' ? el('i', { class: `dot level-${knownLevel(v)}` }) : null;
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
      el('div', { class: 'fv-bar' }, el('span', { style: { width: `${pct}%` } })),
    ));
  }
}

const quoteValue = (value) => `"${String(value).replace(/[\\"]/g, '\\$&')}"`;

function addFilter(field, value, exclude) {
  const term = `${exclude ? 'NOT ' : ''}${field}:${quoteValue(value)}`;
  const current = $('#q').value.trim();
  $('#q').value = current ? `${current} AND ${term}` : term;
  onFilter();
}
