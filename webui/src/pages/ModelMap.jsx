// Aliases: a name clients send → the upstream models that may serve it.
import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../api.js';
import { splitList } from '../format.js';
import { t } from '../i18n.js';
import { useMe } from '../session.js';
import { Empty, ErrorBox, Loading, PageHead, useAction, useLoad } from '../ui.jsx';

export function ModelMap() {
  const { data, error, reload } = useLoad(() => get('/api/model-map'), []);
  const [rows, setRows] = useState(null);
  const [busy, run] = useAction();
  const { can } = useMe();
  useEffect(() => {
    if (data) setRows(Object.entries(data).map(([alias, models]) => ({ alias, models: (models || []).join(', ') })));
  }, [data]);

  const setRow = (i, k) => (e) => setRows(rows.map((r, j) => (j === i ? { ...r, [k]: e.currentTarget.value } : r)));
  const save = async (e) => {
    e.preventDefault();
    const map = {};
    for (const r of rows) {
      const alias = r.alias.trim();
      if (alias) map[alias] = splitList(r.models);
    }
    const r = await run(() => api('PUT', '/api/model-map', map), t('Model map saved'));
    if (r.ok) reload();
  };
  const dirty = data && rows && JSON.stringify(Object.fromEntries(rows.filter((r) => r.alias.trim()).map((r) => [r.alias.trim(), splitList(r.models)]))) !== JSON.stringify(data);

  return (
    <div class="page">
      <PageHead title={t('Model map')} sub={t('Aliases clients may ask for, and the upstream models that serve each, in order of preference.')} />
      <ErrorBox error={error} onRetry={reload} />
      {!rows && !error && <Loading />}
      {rows && (
        <form class="card" onSubmit={save}>
          {rows.length === 0 && <Empty icon="⌘" title={t('No aliases yet')}><p>{t('Clients can still ask for any upstream model by its own name.')}</p></Empty>}
          {rows.length > 0 && (
            <div class="kv-table" role="group" aria-label={t('Aliases')}>
              <div class="kv-head" aria-hidden="true"><span>{t('Alias')}</span><span>{t('Upstream models')}</span><span /></div>
              {rows.map((r, i) => (
                <div class="kv-row" key={i}>
                  <input aria-label={t('Alias {n}', { n: i + 1 })} value={r.alias} onInput={setRow(i, 'alias')} placeholder="gpt-4" disabled={!can.write} />
                  <input aria-label={t('Upstream models for alias {n}', { n: i + 1 })} value={r.models} onInput={setRow(i, 'models')} placeholder="gpt-4o, gpt-4-turbo" disabled={!can.write} />
                  {can.write && <button type="button" class="icon-btn" aria-label={t('Remove alias {n}', { n: i + 1 })} onClick={() => setRows(rows.filter((_, j) => j !== i))}>×</button>}
                </div>
              ))}
            </div>
          )}
          {can.write && (
            <div class="actions">
              <button type="button" class="btn" onClick={() => setRows([...rows, { alias: '', models: '' }])}>+ {t('Add alias')}</button>
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
