// Requests, success rate, tokens and cost over time; where traffic goes; who
// spends; which accounts need attention.
import { useState } from 'preact/hooks';
import { api, get, getAll } from '../api.js';
import { ChartBox } from '../charts.jsx';
import { compact, money, num, pct, time } from '../format.js';
import { lang, t } from '../i18n.js';
import { Link } from '../router.js';
import { useMe } from '../session.js';
import { Empty, ErrorBox, Field, Loading, PageHead, StatusBadge, Table, useAction, useLoad } from '../ui.jsx';

const RANGES = [
  { value: '1', label: 'Last 24 hours' },
  { value: '7', label: 'Last 7 days' },
  { value: '30', label: 'Last 30 days' },
  { value: '90', label: 'Last 90 days' },
];

function hourLabel(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString(lang() === 'zh' ? 'zh-CN' : 'en-US', { hour: '2-digit', minute: '2-digit' });
}
function dayLabel(date) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(lang() === 'zh' ? 'zh-CN' : 'en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

async function loadDashboard(days) {
  const [stats, channels, users] = await Promise.all([
    get(`/api/stats?days=${days}`),
    getAll('/api/channels', 2000).catch(() => []),
    getAll('/api/users', 5000).catch(() => []),
  ]);
  // accounts of the first 50 channels, for the "needs attention" list
  const lists = await Promise.all(channels.slice(0, 50).map((c) =>
    getAll(`/api/channels/${encodeURIComponent(c.id)}/accounts`, 2000).then((a) => a.map((x) => ({ ...x, channel: c })), () => [])));
  return { stats, channels, users, accounts: lists.flat() };
}

function Card({ label, value, sub, tone = '' }) {
  return (
    <div class={`card stat ${tone}`}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

export function Dashboard() {
  const [days, setDays] = useState('7');
  const { data, error, loading, reload } = useLoad(() => loadDashboard(days), [days]);
  const { can } = useMe();
  const [busy, run] = useAction();

  const head = (
    <PageHead title={t('Dashboard')} sub={t('Traffic, spending and health of the gateway.')}>
      <Field label={t('Period')} type="select" value={days} onInput={setDays} class="field-inline"
        options={RANGES.map((r) => ({ value: r.value, label: t(r.label) }))} />
      <button type="button" class="btn" onClick={reload} disabled={loading}>{t('Refresh')}</button>
    </PageHead>
  );
  if (error) return <div class="page">{head}<ErrorBox error={error} onRetry={reload} /></div>;
  if (!data) return <div class="page">{head}<Loading /></div>;

  const { stats, channels, users, accounts } = data;
  const tot = stats.totals || {};
  const hourly = days === '1';
  const series = hourly ? stats.hourly || [] : stats.daily || [];
  const labels = series.map((p) => (hourly ? hourLabel(p.hour) : dayLabel(p.date)));
  const chName = Object.fromEntries(channels.map((c) => [c.id, c.name]));
  const userName = Object.fromEntries(users.map((u) => [u.id, u.name]));
  const attention = accounts.filter((a) => a.status && a.status !== 'active');
  const byModel = (stats.by_model || []).slice(0, 8);
  const byChannel = (stats.by_channel || []).slice(0, 10);
  const success = tot.requests ? pct(tot.requests - (tot.errors || 0), tot.requests) : '—';
  const tokens = (tot.prompt_tokens || 0) + (tot.completion_tokens || 0);

  const reset = async (a) => {
    const r = await run(() => api('POST', `/api/accounts/${encodeURIComponent(a.id)}/reset`), t('Account {name} reset', { name: a.name || a.masked }));
    if (r.ok) reload();
  };

  return (
    <div class="page">
      {head}
      <section class="cards" aria-label={t('Totals')}>
        <Card label={t('Requests')} value={num(tot.requests || 0)} sub={t('{n} errors', { n: num(tot.errors || 0) })} />
        <Card label={t('Success rate')} value={success} tone={tot.requests && tot.errors / tot.requests > 0.05 ? 'tone-warn' : 'tone-ok'} />
        <Card label={t('Tokens')} value={compact(tokens)} sub={t('{p} prompt · {c} completion', { p: compact(tot.prompt_tokens || 0), c: compact(tot.completion_tokens || 0) })} />
        <Card label={t('Cost')} value={money(tot.cost || 0)} sub={t('in units (micro-units ÷ 1,000,000)')} />
      </section>

      <div class="grid-2">
        <section class="card" aria-labelledby="ch-req">
          <h2 id="ch-req">{t('Requests over time')}</h2>
          <ChartBox kind="line" labels={labels} label={t('Requests over time')}
            series={[{ label: t('Requests'), data: series.map((p) => p.requests || 0) }, { label: t('Errors'), data: series.map((p) => p.errors || 0), color: getComputedStyle(document.documentElement).getPropertyValue('--bad').trim() }]} />
        </section>
        <section class="card" aria-labelledby="ch-tok">
          <h2 id="ch-tok">{t('Tokens over time')}</h2>
          <ChartBox kind="bar" stacked labels={labels} label={t('Tokens over time')}
            series={[{ label: t('Prompt'), data: series.map((p) => p.prompt_tokens || 0) }, { label: t('Completion'), data: series.map((p) => p.completion_tokens || 0) }]} />
        </section>
        <section class="card" aria-labelledby="ch-cost">
          <h2 id="ch-cost">{t('Cost over time')}</h2>
          <ChartBox kind="line" labels={labels} label={t('Cost over time')} format={(v) => money(v)}
            series={[{ label: t('Cost'), data: series.map((p) => p.cost || 0), color: getComputedStyle(document.documentElement).getPropertyValue('--chart-3').trim() }]} />
        </section>
        <section class="card" aria-labelledby="ch-model">
          <h2 id="ch-model">{t('Requests by model')}</h2>
          {byModel.length ? (
            <ChartBox kind="doughnut" labels={byModel.map((m) => m.model)} label={t('Requests by model')}
              series={[{ label: t('Requests'), data: byModel.map((m) => m.requests || 0) }]} />
          ) : <Empty title={t('No traffic in this period')} />}
        </section>
      </div>

      <div class="grid-2">
        <section class="card" aria-labelledby="ch-chan">
          <h2 id="ch-chan">{t('Requests by channel')}</h2>
          {byChannel.length ? (
            <ChartBox kind="bar" labels={byChannel.map((c) => chName[c.channel_id] || c.channel_id)} label={t('Requests by channel')} height={200}
              series={[{ label: t('Requests'), data: byChannel.map((c) => c.requests || 0) }, { label: t('Errors'), data: byChannel.map((c) => c.errors || 0), color: getComputedStyle(document.documentElement).getPropertyValue('--bad').trim() }]} />
          ) : <Empty title={t('No traffic in this period')} />}
        </section>
        <section class="card" aria-labelledby="top-users">
          <h2 id="top-users">{t('Top users')}</h2>
          {(stats.top_users || []).length ? (
            <Table caption={t('Top users')} head={[t('User'), t('Requests'), t('Tokens'), t('Cost')]}>
              {stats.top_users.map((u) => (
                <tr key={u.user_id}>
                  <td><Link href={`/users/${encodeURIComponent(u.user_id)}`}>{userName[u.user_id] || u.user_id}</Link></td>
                  <td class="num">{num(u.requests)}</td>
                  <td class="num">{compact((u.prompt_tokens || 0) + (u.completion_tokens || 0))}</td>
                  <td class="num">{money(u.cost)}</td>
                </tr>
              ))}
            </Table>
          ) : <Empty title={t('No spending in this period')} />}
        </section>
      </div>

      <section class="card" aria-labelledby="attention">
        <h2 id="attention">{t('Accounts needing attention')}</h2>
        {attention.length ? (
          <Table caption={t('Accounts needing attention')} head={[t('Channel'), t('Account'), t('Status'), t('Until / reason'), t('Errors'), '']}>
            {attention.map((a) => (
              <tr key={a.id}>
                <td><Link href={`/channels/${encodeURIComponent(a.channel.id)}`}>{a.channel.name}</Link></td>
                <td>{a.name || a.masked}</td>
                <td><StatusBadge status={a.status} /></td>
                <td>{a.status === 'cooling' ? time(a.cooldown_until) : (a.disabled_reason || '—')}</td>
                <td class="num">{num(a.errors)}</td>
                <td class="row-actions">{can.write && <button type="button" class="btn btn-small" disabled={busy} onClick={() => reset(a)}>{t('Reset')}</button>}</td>
              </tr>
            ))}
          </Table>
        ) : <Empty icon="✓" title={t('Every account is active')} />}
      </section>
    </div>
  );
}
