// Display helpers. Money is integer micro-units (1 unit = 1,000,000).
import { lang } from './i18n.js';

const locale = () => (lang() === 'zh' ? 'zh-CN' : 'en-US');

/** micro-units → "12.50" (at least 2 decimals, at most 6, no trailing zeros past 2) */
export function money(micro) {
  if (micro === null || micro === undefined || micro === '') return '—';
  const n = Number(micro) / 1e6;
  return n.toLocaleString(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 6 });
}

/** "12.5" (units, as typed) → micro-units, or NaN */
export function toMicro(units) {
  const s = String(units).trim();
  if (!/^-?\d+(\.\d{0,6})?$|^-?\.\d{1,6}$/.test(s)) return NaN;
  return Math.round(Number(s) * 1e6);
}

export function num(n) {
  if (n === null || n === undefined || n === '') return '—';
  return Number(n).toLocaleString(locale());
}

/** 12345 → "12.3K" */
export function compact(n) {
  return Number(n || 0).toLocaleString(locale(), { notation: 'compact', maximumFractionDigits: 1 });
}

export function pct(part, whole) {
  if (!whole) return '—';
  return `${((100 * part) / whole).toLocaleString(locale(), { maximumFractionDigits: 1 })}%`;
}

/** Unix seconds → local date and time */
export function time(sec) {
  if (!sec) return '—';
  return new Date(Number(sec) * 1000).toLocaleString(locale(), { dateStyle: 'medium', timeStyle: 'medium' });
}

export function shortTime(sec) {
  if (!sec) return '—';
  return new Date(Number(sec) * 1000).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function ms(v) {
  if (v === null || v === undefined) return '—';
  return `${num(Math.round(v))} ms`;
}

/** "a, b\nc" → ["a","b","c"] */
export function splitList(s) {
  return String(s || '').split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}

/** An <input type=number> value → number, or undefined when empty */
export function intOrUndef(v) {
  if (v === '' || v === null || v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : undefined;
}
