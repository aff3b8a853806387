// Admin actions (who changed what), from GET /api/audit. A node without the
// sign-in backend answers 404: the page says so instead of failing.
import { useEffect, useState } from 'preact/hooks';
import { get, qs } from '../api.js';
import { time } from '../format.js';
import { t } from '../i18n.js';
import { Badge, Empty, ErrorBox, Field, Loading, PageHead, Table } from '../ui.jsx';

const EMPTY = { actor: '', action: '', target: '' };
const summaryText = (s) => (s === null || s === undefined ? '' : typeof s === 'string' ? s : JSON.stringify(s));

export function Audit() {
  const [draft, setDraft] = useState(EMPTY);
  const [filters, setFilters] = useState(EMPTY);
  const [state, setState] = useState({ loading: true, data: [], next: null, error: null, missing: false });
  const load = async (before) => {
    setState((s) => ({ ...s, loading: true }));
    try {
      const page = await get(`/api/audit${qs({ ...filters, limit: 100, before })}`, { quiet401: true });
      const rows = Array.isArray(page) ? page : page?.data || [];
      setState((s) => ({ loading: false, data: before ? [...s.data, ...rows] : rows, next: page?.next || null, error: null, missing: false }));
    } catch (e) {
      setState({ loading: false, data: [], next: null, error: e.status === 404 ? null : e, missing: e.status === 404 });
    }
  };
  useEffect(() => { load(null); }, [JSON.stringify(filters)]);
  const active = Object.values(filters).some(Boolean);
  return (
    <div class="page">
      <PageHead title={t('Audit log')} sub={t('Every change made through the admin API, by whom, and when.')} />
      {!state.missing && (
        <form class="card filters" aria-label={t('Filters')} onSubmit={(e) => { e.preventDefault(); setFilters(draft); }}>
          <Field label={t('Actor')} value={draft.actor} onInput={(v) => setDraft({ ...draft, actor: v })} placeholder="alice@example.com" />
          <Field label={t('Action')} value={draft.action} onInput={(v) => setDraft({ ...draft, action: v })} placeholder="channel.create" />
          <Field label={t('Target')} value={draft.target} onInput={(v) => setDraft({ ...draft, target: v })} placeholder="ch_…" />
          <div class="filter-actions">
            <button type="submit" class="btn btn-primary">{t('Apply')}</button>
            {active && <button type="button" class="btn" onClick={() => { setDraft(EMPTY); setFilters(EMPTY); }}>{t('Clear')}</button>}
          </div>
        </form>
      )}
      <ErrorBox error={state.error} onRetry={() => load(null)} />
      {state.missing ? (
        <Empty icon="☰" title={t('The audit log is not available on this node yet')}>
          <p>{t('It arrives with console sign-in. Changes are still applied as usual.')}</p>
        </Empty>
      ) : state.data.length ? (
        <div class="card card-flush">
          <Table caption={t('Audit log')} head={[t('Time'), t('Actor'), t('Role'), t('Action'), t('Target'), t('Summary')]}>
            {state.data.map((a, i) => (
              <tr key={a.id || i}>
                <td>{time(a.time)}</td>
                <td>{a.actor}</td>
                <td><Badge>{t(a.role || 'unknown')}</Badge></td>
                <td class="mono">{a.action}</td>
                <td class="mono">{a.target}</td>
                <td class="wrap sub">{summaryText(a.summary)}</td>
              </tr>
            ))}
          </Table>
          {state.next && <div class="card-foot"><button type="button" class="btn" disabled={state.loading} onClick={() => load(state.next)}>{t('Load older')}</button></div>}
        </div>
      ) : state.loading ? <Loading /> : !state.error && <Empty icon="☰" title={active ? t('No actions match these filters') : t('No admin actions recorded yet')} />}
    </div>
  );
}
