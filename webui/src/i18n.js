// English and Chinese. The English text is the key: t('Save') looks the
// string up in the Chinese table when the language is Chinese. build.mjs
// refuses to build when a t('...') literal has no Chinese entry.
import { zh } from './zh.js';

const STORE = 'aihub.lang';
let current = (() => {
  try {
    const s = localStorage.getItem(STORE);
    if (s === 'en' || s === 'zh') return s;
  } catch { /* storage disabled */ }
  return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
})();

export const lang = () => current;

export function setLang(l) {
  current = l === 'zh' ? 'zh' : 'en';
  try { localStorage.setItem(STORE, current); } catch { /* storage disabled */ }
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

// Strings asked for in Chinese that have no translation (the browser tests
// read this after touring every page in Chinese and expect it empty).
const missing = new Set();
if (typeof window !== 'undefined') window.__aihubMissingZh = missing;

/** t('Balance of {name}', {name}) */
export function t(s, vars) {
  let out = s;
  if (current === 'zh') {
    if (Object.hasOwn(zh, s)) out = zh[s];
    else missing.add(s);
  }
  if (vars) out = out.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return out;
}
