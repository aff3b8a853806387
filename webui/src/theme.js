// Light and dark themes: "system" (the default) follows prefers-color-scheme;
// "light" or "dark" is stored and set as <html data-theme>.
import { useEffect, useState } from 'preact/hooks';

const STORE = 'aihub.theme';
const media = matchMedia('(prefers-color-scheme: dark)');
const listeners = new Set();

export function themeChoice() {
  try {
    const v = localStorage.getItem(STORE);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch { return 'system'; }
}

export function effectiveTheme() {
  const c = themeChoice();
  return c === 'system' ? (media.matches ? 'dark' : 'light') : c;
}

export function setThemeChoice(choice) {
  try {
    if (choice === 'light' || choice === 'dark') localStorage.setItem(STORE, choice);
    else localStorage.removeItem(STORE);
  } catch { /* storage disabled */ }
  if (choice === 'light' || choice === 'dark') document.documentElement.dataset.theme = choice;
  else delete document.documentElement.dataset.theme;
  listeners.forEach((f) => f());
}

media.addEventListener('change', () => listeners.forEach((f) => f()));

/** The effective theme ('light' | 'dark'), re-rendering on change. */
export function useTheme() {
  const [v, setV] = useState(effectiveTheme());
  useEffect(() => {
    const f = () => setV(effectiveTheme());
    listeners.add(f);
    return () => listeners.delete(f);
  }, []);
  return v;
}
