// Prices per million tokens, in units; PUT replaces the whole table.
import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../api.js';
import { t } from '../i18n.js';
import { useMe } from '../session.js';
import { Empty, ErrorBox, Loading, PageHead, useAction, useLoad } from '../ui.jsx';

const toRows = (data) => Object.entries(data || {}).map(([model, p]) => ({
  model, input: String(p.input ?? ''), output: String(p.output ?? ''), cached_input: p.cached_input === undefined || p.cached_input === p.input ? '' : String(p.cached_input),
}));

function toTable(rows) {
  const out = {};
  for (const r of rows) {
    const model = r.model.trim();
    if (!model) continue;
    const p = { input: Number(r.input || 0), output: Number(r.output || 0) };
    if (String(r.cached_input).trim() !== '') p.cached_input = Number(r.cached_input);
    for (const [k, v] of Object.entries(p)) {
      if (!Number.isFinite(v) || v < 0) throw new Error(t('{model}: {field} must be a number of units, 0 or more', { model, field: t(k) }));
    }
    out[model] = p;
  }
  return out;
}

export function Prices() {
  const { data, error, reload } = useLoad(() => get('/api/prices'), []);
  const [rows, setRows] = useState(null);
  const [busy, run] = useAction();
  const { can } = useMe();
  useEffect(() => { if (data) setRows(toRows(data)); }, [data]);
  const setRow = (i, k) => (e) => setRows(rows.map((r, j) => (j === i ? { ...r, [k]: e.currentTarget.value } : r)));
  const save = async (e) => {
    e.preventDefault();
    const r = await run(async () => api('PUT', '/api/prices', toTable(rows)), t('Prices saved'));
    if (r.ok) reload();
  };
  let dirty = false;
  try { dirty = !!(data && rows && JSON.stringify(toTable(rows)) !== JSON.stringify(toTable(toRows(data)))); } catch { dirty = true; }

  return (
    <div class="page">
      <PageHead title={t('Prices')} sub={t('Units per million tokens. A model with no price costs nothing. The asked name\'s price wins over the upstream model\'s.')} />
      <ErrorBox error={error} onRetry={reload} />
      {!rows && !error && <Loading />}
      {rows && (
        <form class="card" onSubmit={save}>
          {rows.length === 0 && <Empty icon="¤" title={t('No prices yet')}><p>{t('Every model is free until it has a price.')}</p></Empty>}
          {rows.length > 0 && (
            <div class="kv-table kv-prices" role="group" aria-label={t('Prices')}>
              <div class="kv-head" aria-hidden="true"><span>{t('Model')}</span><span>{t('Input')}</span><span>{t('Output')}</span><span>{t('Cached input')}</span><span /></div>
              {rows.map((r, i) => (
                <div class="kv-row" key={i}>
                  <input aria-label={t('Model {n}', { n: i + 1 })} value={r.model} onInput={setRow(i, 'model')} placeholder="gpt-4o" disabled={!can.write} />
                  <input aria-label={t('Input price for model {n}', { n: i + 1 })} inputMode="decimal" value={r.input} onInput={setRow(i, 'input')} placeholder="2.5" disabled={!can.write} />
                  <input aria-label={t('Output price for model {n}', { n: i + 1 })} inputMode="decimal" value={r.output} onInput={setRow(i, 'output')} placeholder="10" disabled={!can.write} />
                  <input aria-label={t('Cached input price for model {n}', { n: i + 1 })} inputMode="decimal" value={r.cached_input} onInput={setRow(i, 'cached_input')} placeholder={t('= input')} disabled={!can.write} />
                  {can.write && <button type="button" class="icon-btn" aria-label={t('Remove model {n}', { n: i + 1 })} onClick={() => setRows(rows.filter((_, j) => j !== i))}>×</button>}
                </div>
              ))}
            </div>
          )}
          {can.write && (
            <div class="actions">
              <button type="button" class="btn" onClick={() => setRows([...rows, { model: '', input: '', output: '', cached_input: '' }])}>+ {t('Add model')}</button>
              <span class="spacer" />
              {dirty && <span class="muted" role="status">{t('Unsaved changes')}</span>}
              <button type="submit" class="btn btn-primary" disabled={busy || !dirty}>{t('Save')}</button>
            </div>
          )}
        </form>
      )}
    </div>
  );
}
