// Time units, durations and timestamps; everything is UTC, never the browser's local time.

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export function parseDuration(text) {
  const m = /^(\d+)([smhdw])$/.exec(text || '');
  if (!m) return null;
  return Number(m[1]) * { s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY }[m[2]];
}

// RFC 3339 with second precision: 2026-11-27T10:00:00Z
export const isoSeconds = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// datetime-local value (interpreted as UTC) -> RFC 3339, '' when invalid.
export function inputToIso(value) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?/.exec(value || '');
  if (!m) return '';
  const iso = `${m[1]}${m[2] || ':00'}Z`;
  return Number.isNaN(Date.parse(iso)) ? '' : iso;
}

export function isoToInput(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '' : new Date(ms).toISOString().slice(0, 19);
}

// Formats an event timestamp (possibly with nanoseconds) without going through local time.
export function formatTs(ts) {
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

export function utcLabel(ms) {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}
