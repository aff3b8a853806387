// Shown when /api/me answers 401: sign in through the identity provider, or
// (automation, development) with the admin key, kept in this tab only.
import { useState } from 'preact/hooks';
import { t } from '../i18n.js';
import { Prefs } from '../prefs.jsx';
import { Field } from '../ui.jsx';

export function Login({ message, onKey, rerender }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const here = location.pathname;
  const next = here.startsWith('/admin') && !/^\/admin\/login\/?$/.test(here) ? here + location.search : '/admin/';
  const submit = async (e) => {
    e.preventDefault();
    if (!key.trim()) return;
    setBusy(true);
    try { await onKey(key.trim()); } finally { setBusy(false); }
  };
  return (
    <div class="login">
      <div class="login-prefs"><Prefs onChange={rerender} /></div>
      <main class="login-card" id="main">
        <div class="login-brand"><span class="brand-mark big" aria-hidden="true">A</span></div>
        <h1 id="page-title" tabIndex={-1}>{t('AiHub console')}</h1>
        <p class="muted">{t('Sign in to manage channels, users, keys and spending.')}</p>
        <div aria-live="assertive" role="alert" class="login-msg">{message ? <div class="alert alert-error">{message}</div> : null}</div>
        <a class="btn btn-primary btn-block" href={`/auth/login?next=${encodeURIComponent(next)}`}>{t('Sign in with single sign-on')}</a>
        <div class="divider"><span>{t('or')}</span></div>
        <form onSubmit={submit} class="stack">
          <Field label={t('Admin key')} type="password" value={key} onInput={setKey} autocomplete="off" spellcheck={false}
            hint={t('For automation and development. Kept in this browser tab only, sent as X-Admin-Key.')} />
          <button type="submit" class="btn btn-block" disabled={busy || !key.trim()}>{busy ? t('Checking…') : t('Use admin key')}</button>
        </form>
      </main>
    </div>
  );
}
