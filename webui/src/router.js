// A small history router under /admin/: the node answers every extension-less
// path under /admin/ with index.html, so deep links and reloads work.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/admin';
const EVENT = 'aihub:navigate';

export function currentPath() {
  const p = location.pathname;
  if (!p.startsWith(BASE)) return '/';
  const rest = p.slice(BASE.length) || '/';
  return rest.length > 1 && rest.endsWith('/') ? rest.slice(0, -1) : rest;
}

export function navigate(to, { replace = false } = {}) {
  const url = BASE + (to.startsWith('/') ? to : `/${to}`);
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  dispatchEvent(new Event(EVENT));
}

export function useRoute() {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => setPath(currentPath());
    addEventListener('popstate', on);
    addEventListener(EVENT, on);
    return () => {
      removeEventListener('popstate', on);
      removeEventListener(EVENT, on);
    };
  }, []);
  return path;
}

/** <Link href="/users">: a real link (open in new tab works) that routes in-page on a plain click */
export function Link({ href, children, onClick, ...rest }) {
  return h('a', {
    href: BASE + href,
    onClick: (e) => {
      onClick?.(e);
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(href);
    },
    ...rest,
  }, children);
}

/** Matches "/channels/:id" against a path: {id} or null */
export function match(pattern, path) {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return null;
  const params = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(':')) params[a[i].slice(1)] = decodeURIComponent(b[i]);
    else if (a[i] !== b[i]) return null;
  }
  return params;
}
