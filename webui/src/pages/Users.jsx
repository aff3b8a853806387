// Users (who pays), their API keys (shown once), credits and ledger.
import { useState } from 'preact/hooks';
import { api, get, getAll } from '../api.js';
import { intOrUndef, money, num, splitList, time, toMicro } from '../format.js';
import { t } from '../i18n.js';
import { Link, navigate } from '../router.js';
import { useMe } from '../session.js';
import {
  Badge, CopyButton, Dialog, Empty, ErrorBox, Field, Loading, PageHead, Table, useAction, useConfirm, useForm, useLoad,
} from '../ui.jsx';

const limits = (x) => `${t('RPM')} ${x.rpm || '∞'} · ${t('TPM')} ${x.tpm || '∞'} · ${t('in flight')} ${x.max_in_flight || '∞'}`;

function UserForm({ user, onDone, onCancel }) {
  const [f, set] = useForm({
    name: user?.name || '', balance: '', rpm: user?.rpm ?? '', tpm: user?.tpm ?? '', max_in_flight: user?.max_in_flight ?? '',
    enabled: user ? user.enabled !== false : true,
  });
  const [busy, run] = useAction();
  const [err, setErr] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const body = { name: f.name.trim(), rpm: intOrUndef(f.rpm) ?? 0, tpm: intOrUndef(f.tpm) ?? 0, max_in_flight: intOrUndef(f.max_in_flight) ?? 0, enabled: !!f.enabled };
    if (!user && String(f.balance).trim()) {
      const b = toMicro(f.balance);
      if (!Number.isFinite(b) || b < 0) { setErr(t('Enter an amount such as 10 or 2.5')); return; }
      body.balance = b;
    }
    setErr('');
    const r = await run(() => (user ? api('PUT', `/api/users/${encodeURIComponent(user.id)}`, body) : api('POST', '/api/users', body)),
      user ? t('User saved') : t('User {name} created', { name: body.name }));
    if (r.ok) onDone(r.value);
  };
  return (
    <form onSubmit={submit} class="form">
      <div class="form-grid">
        <Field label={t('Name')} value={f.name} onInput={set('name')} required data-autofocus class="span-2" />
        {!user && <Field label={t('Initial balance')} value={f.balance} onInput={set('balance')} inputmode="decimal" placeholder="0" error={err}
          hint={t('In units (e.g. USD). Later changes go through top-ups.')} />}
        <Field label={t('Enabled')} type="checkbox" value={f.enabled} onInput={set('enabled')} />
        <Field label={t('RPM limit')} type="number" min="0" value={f.rpm} onInput={set('rpm')} hint={t('0 or empty: unlimited.')} />
        <Field label={t('TPM limit')} type="number" min="0" value={f.tpm} onInput={set('tpm')} hint={t('0 or empty: unlimited.')} />
        <Field label={t('Max in flight')} type="number" min="0" value={f.max_in_flight} onInput={set('max_in_flight')} hint={t('0 or empty: unlimited.')} />
      </div>
      <div class="actions">
        <button type="button" class="btn" onClick={onCancel}>{t('Cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{user ? t('Save') : t('Create user')}</button>
      </div>
    </form>
  );
}

export function Users() {
  const { data, error, loading, reload } = useLoad(() => getAll('/api/users'), []);
  const [creating, setCreating] = useState(false);
  const [filter, setFilter] = useState('');
  const { can } = useMe();
  const shown = (data || []).filter((u) => !filter || u.name.toLowerCase().includes(filter.toLowerCase()) || u.id === filter);
  return (
    <div class="page">
      <PageHead title={t('Users & keys')} sub={t('Who may call the gateway, with what balance and limits.')}>
        {can.admin && <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>+ {t('New user')}</button>}
      </PageHead>
      <ErrorBox error={error} onRetry={reload} />
      {loading && !data && <Loading />}
      {data && (data.length ? (
        <div class="card card-flush">
          <div class="card-head">
            <Field label={t('Filter by name')} value={filter} onInput={setFilter} type="search" class="field-inline" />
          </div>
          <Table caption={t('Users')} head={[t('Name'), t('Balance'), t('Limits'), t('State'), t('Created')]}>
            {shown.map((u) => (
              <tr key={u.id}>
                <td><Link href={`/users/${encodeURIComponent(u.id)}`} class="strong">{u.name}</Link></td>
                <td class="num">{money(u.balance)}</td>
                <td class="sub">{limits(u)}</td>
                <td>{u.enabled === false ? <Badge kind="bad">{t('disabled')}</Badge> : <Badge kind="ok">{t('active')}</Badge>}</td>
                <td>{time(u.created_at)}</td>
              </tr>
            ))}
          </Table>
        </div>
      ) : <Empty icon="◉" title={t('No users yet')}><p>{t('Create a user, give them credits and an API key.')}</p></Empty>)}
      <Dialog open={creating} title={t('New user')} onClose={() => setCreating(false)}>
        {creating && <UserForm onCancel={() => setCreating(false)} onDone={(u) => { setCreating(false); if (u?.id) navigate(`/users/${encodeURIComponent(u.id)}`); }} />}
      </Dialog>
    </div>
  );
}

// ---- one user ----------------------------------------------------------------------

function TopUpForm({ user, onDone, onCancel }) {
  const [f, set] = useForm({ amount: '', reason: '' });
  // one idempotency key per opened form: a double submit credits once
  const [idem] = useState(() => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`));
  const [err, setErr] = useState('');
  const [busy, run] = useAction();
  const submit = async (e) => {
    e.preventDefault();
    const delta = toMicro(f.amount);
    if (!Number.isFinite(delta) || delta === 0) { setErr(t('Enter an amount such as 10 or 2.5')); return; }
    setErr('');
    const r = await run(() => api('POST', `/api/users/${encodeURIComponent(user.id)}/credits`, { delta, reason: f.reason.trim() },
      { headers: { 'Idempotency-Key': idem } }), (v) => t('New balance: {balance}', { balance: money(v?.balance) }));
    if (r.ok) onDone(r.value);
  };
  return (
    <form onSubmit={submit} class="form">
      <p class="muted">{t('Current balance: {balance}', { balance: money(user.balance) })}</p>
      <Field label={t('Amount')} value={f.amount} onInput={set('amount')} required inputmode="decimal" placeholder="10" error={err} data-autofocus
        hint={t('In units; a negative amount deducts.')} />
      <Field label={t('Reason')} value={f.reason} onInput={set('reason')} required placeholder={t('e.g. invoice 2026-11')}
        hint={t('Recorded in the ledger.')} />
      <div class="actions">
        <button type="button" class="btn" onClick={onCancel}>{t('Cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('Add credits')}</button>
      </div>
    </form>
  );
}

function KeyForm({ userId, apiKey, onDone, onCancel }) {
  const [f, set] = useForm({
    name: apiKey?.name || '', models: (apiKey?.models || []).join(', '), rpm: apiKey?.rpm ?? '', tpm: apiKey?.tpm ?? '',
    max_in_flight: apiKey?.max_in_flight ?? '',
    spend: apiKey?.spend_limit_monthly ? String(apiKey.spend_limit_monthly / 1e6) : '',
    expires: apiKey?.expires_at ? new Date(apiKey.expires_at * 1000).toISOString().slice(0, 10) : '',
  });
  const [err, setErr] = useState('');
  const [busy, run] = useAction();
  const submit = async (e) => {
    e.preventDefault();
    const spend = String(f.spend).trim() ? toMicro(f.spend) : 0;
    if (!Number.isFinite(spend) || spend < 0) { setErr(t('Enter an amount such as 10 or 2.5')); return; }
    setErr('');
    const body = {
      name: f.name.trim(), models: splitList(f.models), rpm: intOrUndef(f.rpm) ?? 0, tpm: intOrUndef(f.tpm) ?? 0,
      max_in_flight: intOrUndef(f.max_in_flight) ?? 0, spend_limit_monthly: spend,
      expires_at: f.expires ? Math.floor(new Date(`${f.expires}T23:59:59Z`).getTime() / 1000) : (apiKey ? null : undefined),
    };
    const r = await run(() => (apiKey ? api('PUT', `/api/keys/${encodeURIComponent(apiKey.id)}`, body)
      : api('POST', `/api/users/${encodeURIComponent(userId)}/keys`, body)), apiKey ? t('Key saved') : null);
    if (r.ok) onDone(r.value);
  };
  return (
    <form onSubmit={submit} class="form">
      <div class="form-grid">
        <Field label={t('Name')} value={f.name} onInput={set('name')} required data-autofocus class="span-2" />
        <Field label={t('Models')} value={f.models} onInput={set('models')} class="span-2" placeholder="gpt-4o, claude-sonnet"
          hint={t('Names as clients send them. Empty: every model.')} />
        <Field label={t('RPM limit')} type="number" min="0" value={f.rpm} onInput={set('rpm')} hint={t('0 or empty: unlimited.')} />
        <Field label={t('TPM limit')} type="number" min="0" value={f.tpm} onInput={set('tpm')} hint={t('0 or empty: unlimited.')} />
        <Field label={t('Max in flight')} type="number" min="0" value={f.max_in_flight} onInput={set('max_in_flight')} hint={t('0 or empty: unlimited.')} />
        <Field label={t('Monthly spend limit')} value={f.spend} onInput={set('spend')} inputmode="decimal" error={err} hint={t('In units. Empty: none.')} />
        <Field label={t('Expires on')} type="date" value={f.expires} onInput={set('expires')} hint={t('Empty: never (UTC end of day).')} />
      </div>
      <div class="actions">
        <button type="button" class="btn" onClick={onCancel}>{t('Cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{apiKey ? t('Save') : t('Create key')}</button>
      </div>
    </form>
  );
}

/** The new key, shown this once. */
function NewKey({ created, onClose }) {
  return (
    <div class="form new-key">
      <div class="alert alert-warn" role="alert">
        <strong>{t('Copy this key now.')}</strong> {t('It is shown only once; AiHub keeps only a hash of it.')}
      </div>
      <Field label={t('API key for {name}', { name: created.name })} value={created.key} readOnly inputClass="mono key-value"
        onFocus={(e) => e.currentTarget.select()} data-autofocus />
      <div class="actions">
        <CopyButton text={created.key} label={t('Copy key')} />
        <button type="button" class="btn btn-primary" onClick={onClose}>{t('Done, I have saved it')}</button>
      </div>
    </div>
  );
}

const LEDGER_KIND = { topup: 'ok', deduct: 'bad', hold: 'neutral', charge: 'neutral', hold_expired: 'warn' };

export function UserDetail({ id }) {
  const user = useLoad(() => get(`/api/users/${encodeURIComponent(id)}`), [id]);
  const keys = useLoad(() => getAll(`/api/users/${encodeURIComponent(id)}/keys`), [id]);
  const ledger = useLoad(() => get(`/api/users/${encodeURIComponent(id)}/ledger?limit=50`), [id]);
  const [dialog, setDialog] = useState(null); // 'edit' | 'topup' | 'key' | {key} | {created}
  const { can } = useMe();
  const confirm = useConfirm();
  const [busy, run] = useAction();
  const u = user.data;
  const close = () => setDialog(null);

  const toggleKey = async (k) => {
    const r = await run(() => api('PUT', `/api/keys/${encodeURIComponent(k.id)}`, { enabled: k.enabled === false }), k.enabled === false ? t('Key enabled') : t('Key disabled'));
    if (r.ok) keys.reload();
  };
  const revoke = async (k) => {
    if (!await confirm(t('Revoke the key {name}? Clients using it are refused at once.', { name: k.name }), { ok: t('Revoke') })) return;
    const r = await run(() => api('DELETE', `/api/keys/${encodeURIComponent(k.id)}`), t('Key revoked'));
    if (r.ok) keys.reload();
  };
  const removeUser = async () => {
    if (!await confirm(t('Delete the user {name}? All of their keys are revoked.', { name: u.name }), { ok: t('Delete') })) return;
    const r = await run(() => api('DELETE', `/api/users/${encodeURIComponent(u.id)}`), t('User deleted'));
    if (r.ok) navigate('/users');
  };

  if (user.error) return <div class="page"><PageHead title={t('User')} /><ErrorBox error={user.error} onRetry={user.reload} /></div>;
  if (!u) return <div class="page"><Loading /></div>;
  return (
    <div class="page">
      <nav class="breadcrumb" aria-label={t('Breadcrumb')}><Link href="/users">{t('Users & keys')}</Link> <span aria-hidden="true">/</span> <span>{u.name}</span></nav>
      <PageHead title={u.name} sub={limits(u)}>
        {can.admin && <button type="button" class="btn btn-primary" onClick={() => setDialog('topup')}>{t('Top up')}</button>}
        {can.admin && <button type="button" class="btn" onClick={() => setDialog('edit')}>{t('Edit')}</button>}
        {can.admin && <button type="button" class="btn btn-danger-ghost" onClick={removeUser}>{t('Delete')}</button>}
      </PageHead>
      <section class="cards">
        <div class="card stat"><div class="stat-label">{t('Balance')}</div><div class="stat-value" data-testid="balance">{money(u.balance)}</div></div>
        <div class="card stat"><div class="stat-label">{t('State')}</div><div class="stat-value small">{u.enabled === false ? t('disabled') : t('active')}</div></div>
        <div class="card stat"><div class="stat-label">{t('Created')}</div><div class="stat-value small">{time(u.created_at)}</div></div>
      </section>

      <section class="card card-flush" aria-labelledby="keys-h">
        <div class="card-head">
          <h2 id="keys-h">{t('API keys')}</h2>
          {can.admin && <button type="button" class="btn btn-primary" onClick={() => setDialog('key')}>+ {t('New key')}</button>}
        </div>
        <ErrorBox error={keys.error} onRetry={keys.reload} />
        {keys.data && (keys.data.length ? (
          <Table caption={t('API keys')} head={[t('Name'), t('Models'), t('Limits'), t('Expires'), t('Last used'), t('State'), '']}>
            {keys.data.map((k) => (
              <tr key={k.id}>
                <td><span class="strong">{k.name}</span><div class="sub mono">{k.masked}</div></td>
                <td class="wrap">{k.models?.length ? k.models.join(', ') : t('all')}</td>
                <td class="sub">{limits(k)}{k.spend_limit_monthly ? <div>{t('Monthly spend limit')}: {money(k.spend_limit_monthly)}</div> : null}</td>
                <td>{k.expires_at ? time(k.expires_at) : t('never')}</td>
                <td>{k.last_used_at ? time(k.last_used_at) : '—'}</td>
                <td>{k.enabled === false ? <Badge kind="bad">{t('disabled')}</Badge> : <Badge kind="ok">{t('active')}</Badge>}</td>
                <td class="row-actions">
                  {can.admin && (
                    <>
                      <button type="button" class="btn btn-small" disabled={busy} onClick={() => toggleKey(k)}>{k.enabled === false ? t('Enable') : t('Disable')}</button>
                      <button type="button" class="btn btn-small" onClick={() => setDialog({ key: k })} aria-label={t('Edit {name}', { name: k.name })}>{t('Edit')}</button>
                      <button type="button" class="btn btn-small btn-danger-ghost" onClick={() => revoke(k)} aria-label={t('Revoke {name}', { name: k.name })}>{t('Revoke')}</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        ) : <Empty icon="🔑" title={t('No keys yet')} />)}
      </section>

      <section class="card card-flush" aria-labelledby="ledger-h">
        <div class="card-head"><h2 id="ledger-h">{t('Ledger')}</h2>
          <button type="button" class="btn btn-small" onClick={ledger.reload}>{t('Refresh')}</button></div>
        <ErrorBox error={ledger.error} onRetry={ledger.reload} />
        {ledger.data && ((ledger.data.data || []).length ? (
          <Table caption={t('Ledger')} head={[t('Time'), t('Type'), t('Change'), t('Balance'), t('Details')]}>
            {ledger.data.data.map((x) => (
              <tr key={x.id}>
                <td>{time(x.time)}</td>
                <td><Badge kind={LEDGER_KIND[x.type] || 'neutral'}>{t(x.type)}</Badge></td>
                <td class={`num ${x.delta < 0 ? 'neg' : 'pos'}`}>{x.delta > 0 ? '+' : ''}{money(x.delta)}</td>
                <td class="num">{money(x.balance)}</td>
                <td class="sub wrap">{x.reason || (x.request_id ? `${t('request')} ${x.request_id}` : '')}{x.unpaid ? ` · ${t('unpaid')} ${money(x.unpaid)}` : ''}</td>
              </tr>
            ))}
          </Table>
        ) : <Empty title={t('No balance changes yet')} />)}
      </section>

      <Dialog open={dialog === 'edit'} title={t('Edit user')} onClose={close}>
        {dialog === 'edit' && <UserForm user={u} onCancel={close} onDone={() => { close(); user.reload(); }} />}
      </Dialog>
      <Dialog open={dialog === 'topup'} title={t('Top up {name}', { name: u.name })} onClose={close} size="small">
        {dialog === 'topup' && <TopUpForm user={u} onCancel={close} onDone={() => { close(); user.reload(); ledger.reload(); }} />}
      </Dialog>
      <Dialog open={dialog === 'key' || !!dialog?.key} title={dialog?.key ? t('Edit key') : t('New key')} onClose={close}>
        {(dialog === 'key' || dialog?.key) && (
          <KeyForm userId={u.id} apiKey={dialog?.key} onCancel={close}
            onDone={(k) => { keys.reload(); if (dialog === 'key' && k?.key) setDialog({ created: k }); else close(); }} />
        )}
      </Dialog>
      <Dialog open={!!dialog?.created} title={t('Your new API key')} onClose={close}>
        {dialog?.created && <NewKey created={dialog.created} onClose={close} />}
      </Dialog>
    </div>
  );
}
