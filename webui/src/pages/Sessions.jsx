// My sessions and devices: GET /api/sessions, end one, or end all but this one.
import { api, get } from '../api.js';
import { time } from '../format.js';
import { t } from '../i18n.js';
import { useMe } from '../session.js';
import { Badge, Empty, ErrorBox, Loading, PageHead, Table, useAction, useConfirm, useLoad } from '../ui.jsx';

function device(ua) {
  if (!ua) return t('Unknown device');
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : null;
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : null;
  return browser || os ? [browser, os].filter(Boolean).join(t(' on ')) : ua.slice(0, 60);
}

export function Sessions() {
  const { via, me } = useMe();
  const { data, error, loading, reload } = useLoad(async () => {
    try {
      const r = await get('/api/sessions', { quiet401: via === 'key' });
      return { rows: Array.isArray(r) ? r : r?.data || [], missing: false };
    } catch (e) {
      if (e.status === 404 || (via === 'key' && (e.status === 401 || e.status === 400 || e.status === 403))) return { rows: [], missing: true };
      throw e;
    }
  }, []);
  const confirm = useConfirm();
  const [busy, run] = useAction();
  const end = async (s) => {
    if (!await confirm(t('Sign out this device?'), { ok: t('Sign out') })) return;
    const r = await run(() => api('DELETE', `/api/sessions/${encodeURIComponent(s.id)}`), t('Session ended'));
    if (r.ok) reload();
  };
  const endOthers = async () => {
    if (!await confirm(t('Sign out every other device? Only this browser stays signed in.'), { ok: t('Sign out others') })) return;
    const r = await run(() => api('DELETE', '/api/sessions'), t('Other sessions ended'));
    if (r.ok) reload();
  };
  const rows = data?.rows || [];
  const others = rows.filter((s) => !s.current).length;
  return (
    <div class="page">
      <PageHead title={t('My sessions')} sub={me?.email ? t('Signed in as {who}', { who: me.email }) : t('Where you are signed in.')}>
        {rows.length > 0 && <button type="button" class="btn btn-danger-ghost" disabled={busy || !others} onClick={endOthers}>{t('Sign out other devices')}</button>}
      </PageHead>
      <ErrorBox error={error} onRetry={reload} />
      {loading && !data && <Loading />}
      {data && (data.missing || rows.length === 0 ? (
        <Empty icon="⎋" title={via === 'key' ? t('No sessions: you are using the admin key') : t('Sessions are not available on this node yet')}>
          <p>{via === 'key' ? t('The admin key is kept in this browser tab only; signing out forgets it. Sessions are for sign-in through your identity provider.') : t('They arrive with console sign-in.')}</p>
        </Empty>
      ) : rows.length ? (
        <div class="card card-flush">
          <Table caption={t('My sessions')} head={[t('Device'), t('IP address'), t('Signed in'), t('Last seen'), '']}>
            {rows.map((s) => (
              <tr key={s.id}>
                <td><span class="strong">{device(s.user_agent)}</span> {s.current && <Badge kind="ok">{t('this device')}</Badge>}<div class="sub sub-wrap" title={s.user_agent}>{(s.user_agent || '').slice(0, 80)}</div></td>
                <td class="mono">{s.ip || '—'}</td>
                <td>{time(s.created_at)}</td>
                <td>{time(s.last_seen_at)}</td>
                <td class="row-actions">{!s.current && <button type="button" class="btn btn-small btn-danger-ghost" disabled={busy} onClick={() => end(s)}>{t('Sign out')}</button>}</td>
              </tr>
            ))}
          </Table>
        </div>
      ) : <Empty icon="⎋" title={t('No sessions')} />)}
    </div>
  );
}
