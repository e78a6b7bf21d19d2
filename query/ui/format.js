// Display formatting shared by the views: counts, plurals and log levels.

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'unknown']);

const numberFormat = new Intl.NumberFormat('en-US');
export const compactFormat = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
export const fmtNum = (n) => numberFormat.format(n || 0);
export const plural = (n, word) => `${fmtNum(n)} ${word}${n === 1 ? '' : 's'}`;

// The level as its CSS class knows it: anything unexpected is 'unknown'.
export const knownLevel = (level) => (LEVELS.has(level) ? level : 'unknown');
