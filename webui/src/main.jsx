// The console's shell: sign-in gate, navigation, theme and language.
import './styles.css';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { MeCtx } from './session.js';
import { ApiError, api, auth, get, onUnauthorized, setAdminKey } from './api.js';
import { lang, t } from './i18n.js';
import { Link, match, navigate, useRoute } from './router.js';
import { Prefs } from './prefs.jsx';
import { ConfirmProvider, Loading, ToastProvider } from './ui.jsx';
import { Dashboard } from './pages/Dashboard.jsx';
import { Channels, ChannelDetail } from './pages/Channels.jsx';
import { Users, UserDetail } from './pages/Users.jsx';
import { ModelMap } from './pages/ModelMap.jsx';
import { Prices } from './pages/Prices.jsx';
import { Settings } from './pages/Settings.jsx';
import { Logs } from './pages/Logs.jsx';
import { Audit } from './pages/Audit.jsx';
import { Sessions } from './pages/Sessions.jsx';
import { Playground } from './pages/Playground.jsx';
import { Login } from './pages/Login.jsx';

// ---- who is signed in -------------------------------------------------------

function withRights(me, via) {
  const role = me?.role || 'viewer';
  return { me, via, role, can: { write: role === 'admin' || role === 'operator', admin: role === 'admin' } };
}

/**
 * Who the browser is: /api/me with the session cookie (or the admin key). A
 * node without the sign-in backend answers /api/me with 404: with an admin key,
 * any admin read that succeeds proves the key, and the key holder is an admin.
 */
async function whoAmI() {
  try {
    const me = await get('/api/me', { quiet401: true });
    return withRights(me, auth.key ? 'key' : 'session');
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404 || !auth.key) throw e;
  }
  await get('/api/settings', { quiet401: true });
  return withRights({ sub: 'admin-key', name: t('Admin key'), role: 'admin' }, 'key');
}

// ---- navigation -----------------------------------------------------------------

const NAV = [
  { group: 'Overview', items: [{ href: '/', label: 'Dashboard', icon: '◧' }] },
  { group: 'Routing', items: [
    { href: '/channels', label: 'Channels', icon: '⇄' },
    { href: '/model-map', label: 'Model map', icon: '⌘' },
    { href: '/prices', label: 'Prices', icon: '¤' },
  ] },
  { group: 'Access', items: [{ href: '/users', label: 'Users & keys', icon: '◉' }] },
  { group: 'Observe', items: [
    { href: '/logs', label: 'Live log', icon: '≋' },
    { href: '/audit', label: 'Audit log', icon: '☰' },
  ] },
  { group: 'Tools', items: [{ href: '/playground', label: 'Playground', icon: '▷' }] },
  { group: 'System', items: [
    { href: '/settings', label: 'Settings', icon: '⚙' },
    { href: '/sessions', label: 'My sessions', icon: '⎋' },
  ] },
];

const ROUTES = [
  ['/', Dashboard, 'Dashboard'],
  ['/channels', Channels, 'Channels'],
  ['/channels/:id', ChannelDetail, 'Channels'],
  ['/users', Users, 'Users & keys'],
  ['/users/:id', UserDetail, 'Users & keys'],
  ['/model-map', ModelMap, 'Model map'],
  ['/prices', Prices, 'Prices'],
  ['/settings', Settings, 'Settings'],
  ['/logs', Logs, 'Live log'],
  ['/audit', Audit, 'Audit log'],
  ['/sessions', Sessions, 'My sessions'],
  ['/playground', Playground, 'Playground'],
];

function resolve(path) {
  for (const [pattern, Page, title] of ROUTES) {
    const params = match(pattern, path);
    if (params) return { Page, params, title, section: `/${pattern.split('/')[1]}` };
  }
  return null;
}

function NotFound() {
  return (
    <div class="page">
      <h1 tabIndex={-1} id="page-title">{t('Page not found')}</h1>
      <p><Link href="/">{t('Back to the dashboard')}</Link></p>
    </div>
  );
}

// ---- the signed-in layout ---------------------------------------------------------

function Shell({ session, onSignOut, rerender }) {
  const path = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);
  const found = resolve(path);
  const Page = found?.Page || NotFound;

  useEffect(() => { if (path === '/login') navigate('/', { replace: true }); }, [path]);
  const first = useRef(true);
  useEffect(() => {
    document.title = `${found ? t(found.title) : t('Page not found')} · AiHub`;
  }, [path, lang()]);
  useEffect(() => {
    setMenuOpen(false);
    if (first.current) { first.current = false; return; } // a fresh load keeps the browser's focus (skip link first)
    // after in-app navigation, focus the new page's heading so screen readers hear where they are
    const h = document.getElementById('page-title');
    if (h) h.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [path]);

  const who = session.me?.name || session.me?.email || session.me?.sub || '';
  return (
    <MeCtx.Provider value={session}>
      <a class="skip-link" href="#main">{t('Skip to content')}</a>
      <header class="topbar">
        <button type="button" class="icon-btn menu-btn" aria-expanded={menuOpen ? 'true' : 'false'} aria-controls="sidebar"
          aria-label={t('Menu')} onClick={() => setMenuOpen(!menuOpen)}>☰</button>
        <Link href="/" class="brand"><span class="brand-mark" aria-hidden="true">A</span><span>AiHub</span></Link>
        <div class="topbar-spacer" />
        <Prefs onChange={rerender} />
        <div class="whoami">
          <span class="whoami-name" title={session.me?.email || ''}>{who}</span>
          <span class={`badge badge-role`}>{t(session.role)}</span>
          {session.via === 'key' && <span class="badge badge-warn" title={t('Signed in with the admin key (this tab only)')}>{t('key')}</span>}
        </div>
        <button type="button" class="btn btn-small" onClick={onSignOut}>{t('Sign out')}</button>
      </header>
      <div class="layout">
        <nav id="sidebar" class={`sidebar ${menuOpen ? 'open' : ''}`} aria-label={t('Main')}>
          <div class="sidebar-inner">
          {NAV.map((g) => (
            <div class="nav-group" key={g.group}>
              <div class="nav-group-title">{t(g.group)}</div>
              <ul>
                {g.items.map((it) => {
                  const active = found?.section === it.href || (it.href === '/' && path === '/');
                  return (
                    <li key={it.href}>
                      <Link href={it.href} class={`nav-link ${active ? 'active' : ''}`} aria-current={active ? 'page' : undefined}>
                        <span class="nav-icon" aria-hidden="true">{it.icon}</span>{t(it.label)}
                      </Link>
                    </li>
                  );
                })}
              </ul>
            </div>
          ))}
          </div>
        </nav>
        {menuOpen && <div class="scrim" onClick={() => setMenuOpen(false)} aria-hidden="true" />}
        <main id="main" tabIndex={-1}>
          <Page key={path} {...(found?.params || {})} />
        </main>
      </div>
    </MeCtx.Provider>
  );
}

function App() {
  const [session, setSession] = useState(null); // null: checking
  const [out, setOut] = useState(null); // {message}
  const [, setTick] = useState(0);
  const rerender = () => setTick((x) => x + 1);

  const check = async () => {
    try {
      setSession(await whoAmI());
      setOut(null);
    } catch (e) {
      let message = '';
      if (e instanceof ApiError && e.status === 401) {
        if (auth.key) {
          message = t('The admin key was refused.');
          setAdminKey('');
        }
      } else if (e instanceof ApiError && e.status === 404) {
        message = '';
      } else {
        message = t('Could not reach the node: {reason}', { reason: e.message });
      }
      setSession(false);
      setOut({ message });
    }
  };

  useEffect(() => {
    onUnauthorized(() => {
      setSession(false);
      setOut({ message: auth.key ? t('The admin key was refused.') : t('Your session has ended. Please sign in again.') });
      if (auth.key) setAdminKey('');
    });
    check();
  }, []);

  const signOut = async () => {
    if (auth.key) {
      setAdminKey('');
      setSession(false);
      setOut({ message: t('Signed out.') });
      return;
    }
    let next = null;
    try {
      const r = await api('POST', '/auth/logout');
      next = r?.end_session_url || r?.logout_url || r?.redirect || null;
    } catch { /* the session may be gone already */ }
    if (next && /^https?:\/\//.test(next)) {
      location.assign(next);
      return;
    }
    setSession(false);
    setOut({ message: t('Signed out.') });
  };

  const signedInWithKey = async (key) => {
    setAdminKey(key);
    await check();
    if (!auth.key) return;
    // /admin/login is the sign-in page's own address (a node that sends signed-out
    // browsers to the identity provider still serves it): go on to the dashboard
    const here = location.pathname.startsWith('/admin') ? location.pathname.slice(6) || '/' : '/';
    navigate(here === '/login' || here === '/login/' ? '/' : here, { replace: true });
  };

  let body;
  if (session === null) body = <div class="boot"><Loading /></div>;
  else if (session === false) body = <Login message={out?.message} onKey={signedInWithKey} rerender={rerender} />;
  else body = <Shell session={session} onSignOut={signOut} rerender={rerender} />;
  return (
    <ToastProvider>
      <ConfirmProvider>{body}</ConfirmProvider>
    </ToastProvider>
  );
}

render(<App />, document.getElementById('app'));
