// Runs the view the URL asks for: a search (hits, histogram, field values, then live tail if on) with "Load more" paging, or a single permalinked event.

import { getJson, isAbort } from './api.js';
import { $ } from './dom.js';
import { clearError, reportError } from './errors.js';
import { clearFacets, loadFacets } from './facets.js';
import { renderHistogram } from './histogram.js';
import { renderHits, toggleDetail } from './results.js';
import { rangeParams, state } from './state.js';
import { renderPartial, renderTotal, setSearching, setSummary } from './status.js';
import { startTail } from './tail.js';

const PAGE_SIZE = 100;

let searchCtl = null;          // AbortController of the running search (also used by "Load more")
const paging = { params: null, cursor: null, loading: false };

// Cancels whatever search is in flight and starts a new one.
function beginRequest() {
  if (searchCtl) searchCtl.abort();
  searchCtl = new AbortController();
  clearError();
  setSearching(true);
  return searchCtl;
}

export async function search() {
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
    setSummary(null);
    paging.cursor = null;
    listHits([], false, '');
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
  setSummary({ total: res.total, took_ms: res.took_ms });
  paging.params = params;
  paging.cursor = res.cursor || null;
  listHits(res.hits || [], false);
  renderHistogram(hist);
  renderPartial([res, hist]);
  renderTotal();
  if (!hist) reportError(histRes.reason, s.q);
  if (s.tail) startTail();
}

export async function loadMore() {
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
    listHits(res.hits || [], true);
  } catch (err) {
    reportError(err, paging.params.q);
  } finally {
    paging.loading = false;
    updateMore();
  }
}

// Shows the hits and whether "Load more" can continue them.
function listHits(hits, append, emptyText) {
  renderHits(hits, append, emptyText);
  updateMore();
}

function updateMore() {
  const more = $('#more');
  more.hidden = !paging.cursor;
  more.textContent = paging.loading ? 'Loading…' : 'Load more';
}

// Permalink view: a single event, expanded.
export async function showEvent(id) {
  const ctl = beginRequest();
  setSummary(null);
  paging.cursor = null;
  renderHistogram(null);
  renderPartial([]);
  clearFacets();
  try {
    const ev = await getJson(`/api/v1/events/${encodeURIComponent(id)}`, {}, ctl.signal);
    listHits([ev], false);
    const row = $('#results .hit');
    if (row) toggleDetail(row, true);
    setSummary({ label: `Event ${id}` });
  } catch (err) {
    if (isAbort(err)) return;
    listHits([], false, '');
    reportError(err, '');
  } finally {
    if (ctl === searchCtl) {
      setSearching(false);
      renderTotal();
    }
  }
}
