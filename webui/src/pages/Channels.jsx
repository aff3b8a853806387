// Channels (an upstream provider endpoint and its models) and their accounts
// (provider keys): create, edit, bulk import, reset, test.
import { useState } from 'preact/hooks';
import { api, get, getAll } from '../api.js';
import { intOrUndef, ms, num, splitList, time } from '../format.js';
import { t } from '../i18n.js';
import { Link, navigate } from '../router.js';
import { useMe } from '../session.js';
import {
  Badge, Dialog, Empty, ErrorBox, Field, Loading, PageHead, StatusBadge, Table, parseJsonField, useAction, useConfirm, useForm, useLoad,
} from '../ui.jsx';

const TYPES = ['openai', 'openai-compatible', 'anthropic', 'gemini', 'azure'];
const BASE_HINT = {
  openai: 'https://api.openai.com/v1',
  'openai-compatible': 'https://example.com/v1',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
  azure: 'https://{resource}.openai.azure.com',
};
const json = (v) => (v === undefined || v === null || (typeof v === 'object' && !Object.keys(v).length) ? '' : JSON.stringify(v, null, 2));

function channelToForm(c) {
  return {
    name: c?.name || '',
    type: c?.type || 'openai',
    base_url: c?.base_url || '',
    models: (c?.models || []).join('\n'),
    priority: c?.priority ?? 0,
    weight: c?.weight ?? 1,
    enabled: c ? c.enabled !== false : true,
    timeout_ms: c?.timeout_ms ?? '',
    stream_idle_timeout_ms: c?.stream_idle_timeout_ms ?? '',
    proxy: c?.proxy || '',
    api_version: c?.api_version || '',
    deployments: json(c?.deployments),
    cooldowns: json(c?.cooldowns),
    headers: json(c?.headers),
    params: json(c?.params),
    status_map: json(c?.status_map),
  };
}

/** The body to send: everything on create; only what changed on edit (PUT is partial). */
function formToChannel(f, original) {
  const out = {
    name: f.name.trim(),
    type: f.type,
    base_url: f.base_url.trim(),
    models: splitList(f.models),
    priority: intOrUndef(f.priority) ?? 0,
    weight: intOrUndef(f.weight) ?? 1,
    enabled: !!f.enabled,
  };
  const opt = {
    timeout_ms: intOrUndef(f.timeout_ms),
    stream_idle_timeout_ms: intOrUndef(f.stream_idle_timeout_ms),
    proxy: f.proxy.trim() || undefined,
    api_version: f.type === 'azure' ? f.api_version.trim() || undefined : undefined,
    deployments: f.type === 'azure' ? parseJsonField(t('Deployments'), f.deployments) : undefined,
    cooldowns: parseJsonField(t('Cooldowns'), f.cooldowns),
    headers: parseJsonField(t('Headers'), f.headers),
    params: parseJsonField(t('Body parameters'), f.params),
    status_map: parseJsonField(t('Status map'), f.status_map),
  };
  if (!original) {
    for (const [k, v] of Object.entries(opt)) if (v !== undefined) out[k] = v;
    return out;
  }
  const before = channelToForm(original);
  const diff = {};
  for (const k of ['name', 'type', 'base_url', 'priority', 'weight', 'enabled']) if (String(out[k]) !== String(before[k])) diff[k] = out[k];
  if (out.models.join('\n') !== (original.models || []).join('\n')) diff.models = out.models;
  for (const k of Object.keys(opt)) {
    if (String(f[k] ?? '') !== String(before[k] ?? '')) diff[k] = opt[k] === undefined ? null : opt[k];
  }
  return diff;
}

export function ChannelForm({ channel, onDone, onCancel }) {
  const [f, set] = useForm(channelToForm(channel));
  const [busy, run] = useAction();
  const [err, setErr] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    let body;
    try { body = formToChannel(f, channel); } catch (x) { setErr(x); return; }
    setErr(null);
    if (channel && !Object.keys(body).length) { onCancel(); return; }
    const r = await run(() => (channel
      ? api('PUT', `/api/channels/${encodeURIComponent(channel.id)}`, body)
      : api('POST', '/api/channels', body)), channel ? t('Channel saved') : t('Channel {name} created', { name: body.name }));
    if (r.ok) onDone(r.value);
  };
  return (
    <form onSubmit={submit} class="form">
      <ErrorBox error={err} />
      <div class="form-grid">
        <Field label={t('Name')} value={f.name} onInput={set('name')} required data-autofocus />
        <Field label={t('Type')} type="select" value={f.type} onInput={set('type')} options={TYPES.map((x) => ({ value: x }))} />
        <Field label={t('Base URL')} value={f.base_url} onInput={set('base_url')} required type="url" placeholder={BASE_HINT[f.type]} class="span-2"
          hint={t('As the provider\'s own SDK takes it.')} />
        <Field label={t('Models')} type="textarea" value={f.models} onInput={set('models')} class="span-2" rows={3}
          hint={t('Upstream model names, one per line or separated by commas.')} />
        <Field label={t('Priority')} type="number" value={f.priority} onInput={set('priority')} hint={t('Higher is tried first.')} />
        <Field label={t('Weight')} type="number" min="0" value={f.weight} onInput={set('weight')} hint={t('Share of traffic within a priority.')} />
        <Field label={t('Enabled')} type="checkbox" value={f.enabled} onInput={set('enabled')} />
      </div>
      {f.type === 'azure' && (
        <div class="form-grid">
          <Field label={t('API version')} value={f.api_version} onInput={set('api_version')} placeholder="2024-10-21" />
          <Field label={t('Deployments')} type="textarea" value={f.deployments} onInput={set('deployments')} rows={3} inputClass="mono"
            hint={t('JSON: model name → deployment name.')} placeholder={'{"gpt-4o": "my-gpt4o"}'} />
        </div>
      )}
      <details class="advanced">
        <summary>{t('Advanced')}</summary>
        <div class="form-grid">
          <Field label={t('Timeout (ms)')} type="number" min="0" value={f.timeout_ms} onInput={set('timeout_ms')} placeholder="60000" />
          <Field label={t('Stream idle timeout (ms)')} type="number" min="0" value={f.stream_idle_timeout_ms} onInput={set('stream_idle_timeout_ms')} placeholder="120000" />
          <Field label={t('Egress proxy')} value={f.proxy} onInput={set('proxy')} placeholder="socks5://host:1080" class="span-2" />
          <Field label={t('Cooldowns')} type="textarea" rows={2} inputClass="mono" value={f.cooldowns} onInput={set('cooldowns')}
            placeholder={'{"429": 60, "5xx": 300, "timeout": 120}'} hint={t('JSON, seconds.')} />
          <Field label={t('Status map')} type="textarea" rows={2} inputClass="mono" value={f.status_map} onInput={set('status_map')}
            placeholder={'{"400": 500}'} hint={t('JSON: upstream status → status used for failover.')} />
          <Field label={t('Headers')} type="textarea" rows={2} inputClass="mono" value={f.headers} onInput={set('headers')}
            placeholder={'{"X-Org": "..."}'} hint={t('JSON. Values are stored encrypted and shown masked.')} />
          <Field label={t('Body parameters')} type="textarea" rows={2} inputClass="mono" value={f.params} onInput={set('params')}
            placeholder={'{"set": {}, "remove": []}'} hint={t('JSON: fields set on or removed from request bodies.')} />
        </div>
      </details>
      <div class="actions">
        <button type="button" class="btn" onClick={onCancel}>{t('Cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{channel ? t('Save') : t('Create channel')}</button>
      </div>
    </form>
  );
}

/** One-click test: probes every model of the channel and shows per-model latency. */
function useChannelTest() {
  const [state, setState] = useState(null); // {channel, results, error, running}
  const start = async (channel) => {
    setState({ channel, running: true });
    try {
      const r = await api('POST', `/api/channels/${encodeURIComponent(channel.id)}/test`);
      setState({ channel, results: r?.data || [], running: false });
    } catch (error) {
      setState({ channel, error, running: false });
    }
  };
  const view = state && (
    <Dialog open title={t('Test of {name}', { name: state.channel.name })} onClose={() => setState(null)}>
      <div aria-live="polite" class="test-results">
        {state.running && <Loading />}
        <ErrorBox error={state.error} />
        {state.results && (
          <>
            <p class="test-summary" role="status">
              {t('{ok} of {n} models answered', { ok: state.results.filter((x) => x.ok).length, n: state.results.length })}
            </p>
            <Table caption={t('Test results')} head={[t('Model'), t('Result'), t('Status'), t('Latency'), t('Error')]}>
              {state.results.map((x) => (
                <tr key={x.model}>
                  <td class="mono">{x.model}</td>
                  <td>{x.ok ? <Badge kind="ok">{t('OK')}</Badge> : <Badge kind="bad">{t('Failed')}</Badge>}</td>
                  <td class="num">{x.status ?? '—'}</td>
                  <td class="num">{ms(x.latency_ms)}</td>
                  <td class="wrap">{x.error || ''}</td>
                </tr>
              ))}
            </Table>
          </>
        )}
      </div>
      <div class="actions">
        <button type="button" class="btn" disabled={state.running} onClick={() => start(state.channel)}>{t('Test again')}</button>
        <button type="button" class="btn btn-primary" onClick={() => setState(null)}>{t('Close')}</button>
      </div>
    </Dialog>
  );
  return [start, view];
}

function Models({ models }) {
  const list = models || [];
  return (
    <span class="chips">
      {list.slice(0, 3).map((m) => <span class="chip" key={m}>{m}</span>)}
      {list.length > 3 && <span class="chip chip-more" title={list.slice(3).join(', ')}>+{list.length - 3}</span>}
    </span>
  );
}

export function Channels() {
  const { data, error, loading, reload } = useLoad(() => getAll('/api/channels'), []);
  const [editing, setEditing] = useState(null); // null | 'new' | channel
  const [startTest, testView] = useChannelTest();
  const { can } = useMe();
  const confirm = useConfirm();
  const [, run] = useAction();

  const remove = async (c) => {
    if (!await confirm(t('Delete the channel {name} and all of its accounts?', { name: c.name }), { ok: t('Delete') })) return;
    const r = await run(() => api('DELETE', `/api/channels/${encodeURIComponent(c.id)}`), t('Channel {name} deleted', { name: c.name }));
    if (r.ok) reload();
  };

  return (
    <div class="page">
      <PageHead title={t('Channels')} sub={t('Upstream providers, their models and accounts.')}>
        {can.write && <button type="button" class="btn btn-primary" onClick={() => setEditing('new')}>+ {t('New channel')}</button>}
      </PageHead>
      <ErrorBox error={error} onRetry={reload} />
      {loading && !data && <Loading />}
      {data && (data.length ? (
        <div class="card card-flush">
          <Table caption={t('Channels')} head={[t('Name'), t('Type'), t('Models'), t('Priority'), t('Weight'), t('State'), '']}>
            {data.map((c) => (
              <tr key={c.id}>
                <td><Link href={`/channels/${encodeURIComponent(c.id)}`} class="strong">{c.name}</Link><div class="sub mono">{c.base_url}</div></td>
                <td>{c.type}</td>
                <td><Models models={c.models} /></td>
                <td class="num">{c.priority ?? 0}</td>
                <td class="num">{c.weight ?? 1}</td>
                <td>{c.enabled === false ? <Badge kind="neutral">{t('off')}</Badge> : <Badge kind="ok">{t('on')}</Badge>}</td>
                <td class="row-actions">
                  <button type="button" class="btn btn-small" onClick={() => startTest(c)} aria-label={t('Test {name}', { name: c.name })}>{t('Test')}</button>
                  {can.write && <button type="button" class="btn btn-small" onClick={() => setEditing(c)} aria-label={t('Edit {name}', { name: c.name })}>{t('Edit')}</button>}
                  {can.write && <button type="button" class="btn btn-small btn-danger-ghost" onClick={() => remove(c)} aria-label={t('Delete {name}', { name: c.name })}>{t('Delete')}</button>}
                </td>
              </tr>
            ))}
          </Table>
        </div>
      ) : (
        <Empty icon="⇄" title={t('No channels yet')}>
          <p>{t('A channel is an upstream provider (OpenAI, Anthropic, Gemini, Azure or any OpenAI-compatible server) with the models it serves.')}</p>
        </Empty>
      ))}
      <Dialog open={!!editing} title={editing === 'new' ? t('New channel') : t('Edit channel')} onClose={() => setEditing(null)} size="wide">
        {editing && (
          <ChannelForm channel={editing === 'new' ? null : editing} onCancel={() => setEditing(null)}
            onDone={(c) => { const wasNew = editing === 'new'; setEditing(null); if (wasNew && c?.id) navigate(`/channels/${encodeURIComponent(c.id)}`); else reload(); }} />
        )}
      </Dialog>
      {testView}
    </div>
  );
}

// ---- one channel and its accounts ---------------------------------------------

function AccountForm({ channelId, account, onDone, onCancel }) {
  const [f, set] = useForm({
    name: account?.name || '', key: '', weight: account?.weight ?? 1, rpm: account?.rpm ?? '', tpm: account?.tpm ?? '',
    enabled: account ? account.enabled !== false : true,
  });
  const [busy, run] = useAction();
  const submit = async (e) => {
    e.preventDefault();
    const body = { name: f.name.trim() || undefined, weight: intOrUndef(f.weight) ?? 1, rpm: intOrUndef(f.rpm) ?? 0, tpm: intOrUndef(f.tpm) ?? 0, enabled: !!f.enabled };
    if (f.key.trim()) body.key = f.key.trim();
    const r = await run(() => (account
      ? api('PUT', `/api/accounts/${encodeURIComponent(account.id)}`, body)
      : api('POST', `/api/channels/${encodeURIComponent(channelId)}/accounts`, body)), account ? t('Account saved') : t('Account added'));
    if (r.ok) onDone();
  };
  return (
    <form onSubmit={submit} class="form">
      <div class="form-grid">
        <Field label={t('Name')} value={f.name} onInput={set('name')} data-autofocus />
        <Field label={account ? t('New provider key') : t('Provider key')} type="password" value={f.key} onInput={set('key')} required={!account}
          autocomplete="off" hint={account ? t('Leave empty to keep the current key ({masked}).', { masked: account.masked }) : t('Stored encrypted; shown masked afterwards.')} />
        <Field label={t('Weight')} type="number" min="0" value={f.weight} onInput={set('weight')} />
        <Field label={t('Enabled')} type="checkbox" value={f.enabled} onInput={set('enabled')} />
        <Field label={t('RPM limit')} type="number" min="0" value={f.rpm} onInput={set('rpm')} hint={t('0 or empty: unlimited.')} />
        <Field label={t('TPM limit')} type="number" min="0" value={f.tpm} onInput={set('tpm')} hint={t('0 or empty: unlimited.')} />
      </div>
      <div class="actions">
        <button type="button" class="btn" onClick={onCancel}>{t('Cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{account ? t('Save') : t('Add account')}</button>
      </div>
    </form>
  );
}

function ImportForm({ channelId, onDone, onCancel }) {
  const [text, setText] = useState('');
  const [result, setResult] = useState(null);
  const [busy, run] = useAction();
  const submit = async (e) => {
    e.preventDefault();
    const trimmed = text.trim();
    const isJson = trimmed.startsWith('[');
    const r = await run(() => api('POST', `/api/channels/${encodeURIComponent(channelId)}/accounts/import`, text,
      { type: isJson ? 'application/json' : 'text/plain; charset=utf-8' }));
    if (r.ok) { setResult(r.value); onDone(); }
  };
  return (
    <form onSubmit={submit} class="form">
      <Field label={t('Provider keys')} type="textarea" rows={8} inputClass="mono" value={text} onInput={setText} data-autofocus spellcheck={false}
        hint={t('One key per line, or a JSON array of accounts. Duplicates and blank lines are skipped.')} />
      <div aria-live="polite">
        {result && (
          <p class="alert alert-ok" role="status">
            {t('Imported {imported}, skipped {skipped}, failed {failed}.', { imported: result.imported ?? 0, skipped: result.skipped ?? 0, failed: result.failed ?? 0 })}
          </p>
        )}
      </div>
      <div class="actions">
        <button type="button" class="btn" onClick={onCancel}>{result ? t('Close') : t('Cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy || !text.trim()}>{t('Import')}</button>
      </div>
    </form>
  );
}

export function ChannelDetail({ id }) {
  const ch = useLoad(() => get(`/api/channels/${encodeURIComponent(id)}`), [id]);
  const acc = useLoad(() => getAll(`/api/channels/${encodeURIComponent(id)}/accounts`), [id]);
  const [dialog, setDialog] = useState(null); // 'edit' | 'add' | 'import' | {account}
  const [startTest, testView] = useChannelTest();
  const { can } = useMe();
  const confirm = useConfirm();
  const [busy, run] = useAction();
  const c = ch.data;

  const reset = async (a) => {
    const r = await run(() => api('POST', `/api/accounts/${encodeURIComponent(a.id)}/reset`), t('Account {name} reset', { name: a.name || a.masked }));
    if (r.ok) acc.reload();
  };
  const toggle = async (a) => {
    const r = await run(() => api('PUT', `/api/accounts/${encodeURIComponent(a.id)}`, { enabled: a.enabled === false }),
      a.enabled === false ? t('Account enabled') : t('Account disabled'));
    if (r.ok) acc.reload();
  };
  const remove = async (a) => {
    if (!await confirm(t('Delete the account {name}?', { name: a.name || a.masked }), { ok: t('Delete') })) return;
    const r = await run(() => api('DELETE', `/api/accounts/${encodeURIComponent(a.id)}`), t('Account deleted'));
    if (r.ok) acc.reload();
  };

  if (ch.error) return <div class="page"><PageHead title={t('Channel')} /><ErrorBox error={ch.error} onRetry={ch.reload} /></div>;
  if (!c) return <div class="page"><Loading /></div>;
  const close = () => setDialog(null);
  return (
    <div class="page">
      <nav class="breadcrumb" aria-label={t('Breadcrumb')}><Link href="/channels">{t('Channels')}</Link> <span aria-hidden="true">/</span> <span>{c.name}</span></nav>
      <PageHead title={c.name} sub={`${c.type} · ${c.base_url}`}>
        <button type="button" class="btn" onClick={() => startTest(c)}>{t('Test')}</button>
        {can.write && <button type="button" class="btn" onClick={() => setDialog('edit')}>{t('Edit')}</button>}
      </PageHead>
      <section class="card">
        <dl class="facts">
          <div><dt>{t('Models')}</dt><dd><span class="chips">{(c.models || []).map((m) => <span class="chip" key={m}>{m}</span>)}</span></dd></div>
          <div><dt>{t('Priority')}</dt><dd>{c.priority ?? 0}</dd></div>
          <div><dt>{t('Weight')}</dt><dd>{c.weight ?? 1}</dd></div>
          <div><dt>{t('State')}</dt><dd>{c.enabled === false ? t('off') : t('on')}</dd></div>
          <div><dt>{t('Timeout (ms)')}</dt><dd>{num(c.timeout_ms ?? 60000)}</dd></div>
          <div><dt>{t('Created')}</dt><dd>{time(c.created_at)}</dd></div>
        </dl>
      </section>
      <section class="card card-flush" aria-labelledby="accounts-h">
        <div class="card-head">
          <h2 id="accounts-h">{t('Accounts')}</h2>
          {can.write && (
            <div class="page-actions">
              <button type="button" class="btn" onClick={() => setDialog('import')}>{t('Bulk import')}</button>
              <button type="button" class="btn btn-primary" onClick={() => setDialog('add')}>+ {t('Add account')}</button>
            </div>
          )}
        </div>
        <ErrorBox error={acc.error} onRetry={acc.reload} />
        {acc.data && (acc.data.length ? (
          <Table caption={t('Accounts')} head={[t('Account'), t('Status'), t('Requests'), t('Errors'), t('Avg latency'), t('Weight'), t('Limits'), '']}>
            {acc.data.map((a) => (
              <tr key={a.id}>
                <td><span class="strong">{a.name || t('(unnamed)')}</span><div class="sub mono">{a.masked}</div></td>
                <td>
                  {a.enabled === false ? <Badge>{t('off')}</Badge> : <StatusBadge status={a.status} />}
                  {a.status === 'cooling' && <div class="sub">{t('until {time}', { time: time(a.cooldown_until) })}</div>}
                  {a.status === 'disabled' && a.disabled_reason && <div class="sub">{a.disabled_reason}</div>}
                </td>
                <td class="num">{num(a.requests ?? 0)}</td>
                <td class="num">{num(a.errors ?? 0)}</td>
                <td class="num">{a.requests ? ms(a.latency_ms_avg) : '—'}</td>
                <td class="num">{a.weight ?? 1}</td>
                <td class="sub">{t('RPM')} {a.rpm || '∞'} · {t('TPM')} {a.tpm || '∞'}</td>
                <td class="row-actions">
                  {can.write && (
                    <>
                      <button type="button" class="btn btn-small" disabled={busy} onClick={() => reset(a)} aria-label={t('Reset {name}', { name: a.name || a.masked })}>{t('Reset')}</button>
                      <button type="button" class="btn btn-small" disabled={busy} onClick={() => toggle(a)}>{a.enabled === false ? t('Enable') : t('Disable')}</button>
                      <button type="button" class="btn btn-small" onClick={() => setDialog({ account: a })} aria-label={t('Edit {name}', { name: a.name || a.masked })}>{t('Edit')}</button>
                      <button type="button" class="btn btn-small btn-danger-ghost" onClick={() => remove(a)} aria-label={t('Delete {name}', { name: a.name || a.masked })}>{t('Delete')}</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        ) : <Empty icon="🔑" title={t('No accounts yet')}><p>{t('Add the provider keys this channel uses, one by one or in bulk.')}</p></Empty>)}
      </section>
      <Dialog open={dialog === 'edit'} title={t('Edit channel')} onClose={close} size="wide">
        {dialog === 'edit' && <ChannelForm channel={c} onCancel={close} onDone={() => { close(); ch.reload(); }} />}
      </Dialog>
      <Dialog open={dialog === 'add' || !!dialog?.account} title={dialog?.account ? t('Edit account') : t('Add account')} onClose={close}>
        {(dialog === 'add' || dialog?.account) && <AccountForm channelId={c.id} account={dialog?.account} onCancel={close} onDone={() => { close(); acc.reload(); }} />}
      </Dialog>
      <Dialog open={dialog === 'import'} title={t('Bulk import accounts')} onClose={close}>
        {dialog === 'import' && <ImportForm channelId={c.id} onCancel={close} onDone={acc.reload} />}
      </Dialog>
      {testView}
    </div>
  );
}
