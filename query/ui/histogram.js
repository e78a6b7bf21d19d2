// The events-over-time chart: SVG bars with UTC tick labels, redrawn on resize, and a drag across it to zoom.

import { $, svgEl } from './dom.js';
import { compactFormat, plural } from './format.js';
import { DAY, HOUR, MINUTE, SECOND, utcLabel } from './time.js';

const TICK_STEPS = [
  SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY,
];

let histogramData = null;      // last histogram response, kept to redraw on resize
let onZoom = () => {};

// `zoom(fromMs, toMs)` runs when the user drags across the chart.
export function initHistogram(zoom) {
  onZoom = zoom;
}

export const redrawHistogram = () => renderHistogram(histogramData);

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

export function renderHistogram(data) {
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
    if (b - a >= 3) onZoom(tAt(a), tAt(b));
  });
  root.addEventListener('pointercancel', reset);
}
