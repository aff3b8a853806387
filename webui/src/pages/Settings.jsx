// Gateway-wide settings: global limits, retries, cooldowns, holds, log size.
import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../api.js';
import { intOrUndef } from '../format.js';
import { t } from '../i18n.js';
import { useMe } from '../session.js';
import { ErrorBox, Field, Loading, PageHead, useAction, useLoad } from '../ui.jsx';

const FIELDS = [
  ['global_rpm', 'Global RPM limit', '0: unlimited.'],
  ['global_tpm', 'Global TPM limit', '0: unlimited.'],
  ['max_retries', 'Max retries', 'Further accounts tried before the client gets an error.'],
  ['default_max_tokens', 'Default max tokens', 'Used for the hold when a request sets no max_tokens.'],
  ['hold_ttl_s', 'Hold lease (s)', 'A hold not settled in this time is refunded.'],
  ['log_max_entries', 'Request log size', 'Entries kept; the oldest go first.'],
];
const COOL = [['429', 'Cooldown after 429 (s)'], ['5xx', 'Cooldown after 5xx (s)'], ['timeout', 'Cooldown after a timeout (s)']];

const toForm = (s) => ({
  ...Object.fromEntries(FIELDS.map(([k]) => [k, s?.[k] ?? ''])),
  ...Object.fromEntries(COOL.map(([k]) => [`cd_${k}`, s?.cooldowns?.[k] ?? ''])),
});

export function Settings() {
  const { data, error, reload } = useLoad(() => get('/api/settings'), []);
  const [f, setF] = useState(null);
  const [busy, run] = useAction();
  const { can } = useMe();
  useEffect(() => { if (data) setF(toForm(data)); }, [data]);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const save = async (e) => {
    e.preventDefault();
    const before = toForm(data);
    const body = {};
    for (const [k] of FIELDS) if (String(f[k]) !== String(before[k])) body[k] = intOrUndef(f[k]) ?? 0;
    const cd = {};
    for (const [k] of COOL) if (String(f[`cd_${k}`]) !== String(before[`cd_${k}`])) cd[k] = intOrUndef(f[`cd_${k}`]) ?? 0;
    if (Object.keys(cd).length) body.cooldowns = { ...(data.cooldowns || {}), ...cd };
    if (!Object.keys(body).length) return;
    const r = await run(() => api('PUT', '/api/settings', body), t('Settings saved'));
    if (r.ok) reload();
  };
  const dirty = f && data && JSON.stringify(f) !== JSON.stringify(toForm(data));
  return (
    <div class="page">
      <PageHead title={t('Settings')} sub={t('In force on every node within a second of saving.')} />
      <ErrorBox error={error} onRetry={reload} />
      {!f && !error && <Loading />}
      {f && (
        <form class="card form" onSubmit={save}>
          <fieldset disabled={!can.admin}>
            <legend>{t('Limits and retries')}</legend>
            <div class="form-grid">
              {FIELDS.map(([k, label, hint]) => <Field key={k} label={t(label)} hint={t(hint)} type="number" min="0" value={f[k]} onInput={set(k)} />)}
            </div>
          </fieldset>
          <fieldset disabled={!can.admin}>
            <legend>{t('Default cooldowns')}</legend>
            <p class="muted">{t('An account answering 401 or 403 is disabled until reset; channels may override these.')}</p>
            <div class="form-grid">
              {COOL.map(([k, label]) => <Field key={k} label={t(label)} type="number" min="0" value={f[`cd_${k}`]} onInput={set(`cd_${k}`)} />)}
            </div>
          </fieldset>
          {can.admin && (
            <div class="actions">
              {dirty && <span class="muted" role="status">{t('Unsaved changes')}</span>}
              <button type="button" class="btn" disabled={!dirty} onClick={() => setF(toForm(data))}>{t('Discard')}</button>
              <button type="submit" class="btn btn-primary" disabled={busy || !dirty}>{t('Save')}</button>
            </div>
          )}
        </form>
      )}
    </div>
  );
}
