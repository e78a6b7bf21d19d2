// Live tail: streams new matching events from /api/v1/tail into the result list and reconnects after failures.

import { apiUrl, authHeaders, errorFrom } from './api.js';
import { reportError } from './errors.js';
import { prependHit } from './results.js';
import { readSse } from './sse.js';
import { state } from './state.js';
import { countTailEvent, resetTailCount, setTailStatus, tailStatus } from './status.js';

const RECONNECT_MS = 2000;

// `gen` counts streams, so callbacks of a stream that was stopped do nothing.
const tail = { ctl: null, timer: null, gen: 0 };

export function startTail() {
  stopTail('');
  resetTailCount();
  connectTail(tail.gen, state.q);
}

// Ends the stream and any pending reconnect; `status` is what #status shows afterwards.
export function stopTail(status) {
  tail.gen += 1;
  if (tail.ctl) tail.ctl.abort();
  tail.ctl = null;
  clearTimeout(tail.timer);
  setTailStatus(status);
}

async function connectTail(gen, q) {
  const ctl = new AbortController();
  tail.ctl = ctl;
  setTailStatus(tailStatus() === 'reconnecting' ? 'reconnecting' : 'connecting');
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

function onTailMessage(name, data) {
  if (name !== 'event' && name !== 'message') return;
  let ev;
  try {
    ev = JSON.parse(data);
  } catch {
    return;
  }
  if (!ev || typeof ev !== 'object') return;
  if (prependHit(ev)) countTailEvent();
}
