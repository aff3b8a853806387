// The request log: history (GET /api/logs, paged) and new entries live
// (GET /api/logs/stream, Server-Sent Events), with the same filters.
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, getAll, qs, sse } from '../api.js';
import { money, ms, num, shortTime, time } from '../format.js';
import { t } from '../i18n.js';
import { Link } from '../router.js';
import { Dialog, Empty, ErrorBox, Field, HttpStatus, Loading, PageHead, Table, useLoad } from '../ui.jsx';

const KEEP = 500;
const EMPTY = { model: '', user: '', key: '', channel: '', status: '' };

function mergeEntries(a, b) {
  const seen = new Set();
  const out = [];
  for (const e of [...a, ...b]) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(e);
  }
  return out.sort((x, y) => (x.id < y.id ? 1 : x.id > y.id ? -1 : 0)).slice(0, KEEP);
}

function Detail({ entry, names, onClose }) {
  const rows = [
    ['Time', time(entry.time)],
    ['Request id', <span class="mono">{entry.request_id}</span>],
    ['Status', <HttpStatus status={entry.status} />],
    ['Error', entry.error || '—'],
    ['Model', entry.model],
    ['Upstream model', entry.upstream_model || '—'],
    ['User', entry.user_id ? <Link href={`/users/${encodeURIComponent(entry.user_id)}`} onClick={onClose}>{names.users[entry.user_id] || entry.user_id}</Link> : '—'],
    ['Key', entry.key_id ? <span class="mono">{entry.key_id}</span> : '—'],
    ['Channel', entry.channel_id ? <Link href={`/channels/${encodeURIComponent(entry.channel_id)}`} onClick={onClose}>{names.channels[entry.channel_id] || entry.channel_id}</Link> : '—'],
    ['Account', entry.account_id ? <span class="mono">{entry.account_id}</span> : '—'],
    ['Streamed', entry.stream ? t('yes') : t('no')],
    ['Attempts', num(entry.attempts)],
    ['Latency', ms(entry.latency_ms)],
    ['First byte', ms(entry.first_byte_ms)],
    ['Prompt tokens', num(entry.prompt_tokens)],
    ['Cached tokens', num(entry.cached_tokens)],
    ['Completion tokens', num(entry.completion_tokens)],
    ['Estimated tokens', entry.estimated ? t('yes') : t('no')],
    ['Cost', money(entry.cost)],
    ['Unpaid', money(entry.unpaid)],
    ['Client IP', entry.client_ip || '—'],
  ];
  return (
    <Dialog open title={t('Request {id}', { id: entry.request_id || entry.id })} onClose={onClose} size="wide">
      <dl class="facts facts-detail">
        {rows.map(([k, v]) => <div key={k}><dt>{t(k)}</dt><dd>{v}</dd></div>)}
      </dl>
      <details class="advanced"><summary>{t('Raw entry')}</summary><pre class="mono raw">{JSON.stringify(entry, null, 2)}</pre></details>
      <div class="actions"><button type="button" class="btn btn-primary" onClick={onClose}>{t('Close')}</button></div>
    </Dialog>
  );
}

export function Logs() {
  const [draft, setDraft] = useState(EMPTY);
  const [filters, setFilters] = useState(EMPTY);
  const [entries, setEntries] = useState([]);
  const [next, setNext] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const [live, setLive] = useState(true);
  const [conn, setConn] = useState('off'); // off | connecting | live | retrying
  const [selected, setSelected] = useState(null);
  const [fresh, setFresh] = useState(0);
  const names = useLoad(async () => {
    const [users, channels] = await Promise.all([getAll('/api/users').catch(() => []), getAll('/api/channels').catch(() => [])]);
    return { users: Object.fromEntries(users.map((u) => [u.id, u.name])), channels: Object.fromEntries(channels.map((c) => [c.id, c.name])), channelList: channels };
  }, []);
  const nm = names.data || { users: {}, channels: {}, channelList: [] };
  const filterQs = (extra = {}) => qs({ ...filters, ...extra });

  // history: the first page, and "older" pages on demand
  const loadPage = async (before) => {
    setLoading(true);
    try {
      const page = await get(`/api/logs${filterQs({ limit: 100, before })}`);
      setEntries((cur) => mergeEntries(before ? cur : [], page.data || []));
      setNext(page.next || null);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => { setEntries([]); loadPage(null); }, [JSON.stringify(filters)]);

  // live: one stream per filter set; on a drop, reconnect and fill the gap from history
  const gen = useRef(0);
  useEffect(() => {
    if (!live) { setConn('off'); return undefined; }
    const my = ++gen.current;
    const ctl = new AbortController();
    let retry = null;
    const connect = async (isRetry) => {
      setConn(isRetry ? 'retrying' : 'connecting');
      try {
        await sse(`/api/logs/stream${filterQs()}`, (ev) => {
          let e;
          try { e = JSON.parse(ev.data); } catch { return; }
          if (!e.id && ev.id) e.id = ev.id;
          setEntries((cur) => mergeEntries([e], cur));
          setFresh((n) => n + 1);
        }, {
          signal: ctl.signal,
          onOpen: () => {
            setConn('live');
            if (isRetry) get(`/api/logs${filterQs({ limit: 100 })}`).then((p) => setEntries((cur) => mergeEntries(p.data || [], cur)), () => {});
          },
        });
      } catch (e) {
        if (ctl.signal.aborted || my !== gen.current) return;
        if (e.status === 401 || e.status === 403) { setError(e); setConn('off'); return; }
      }
      if (ctl.signal.aborted || my !== gen.current) return;
      setConn('retrying');
      retry = setTimeout(() => connect(true), 2000);
    };
    connect(false);
    return () => { ctl.abort(); clearTimeout(retry); };
  }, [live, JSON.stringify(filters)]);

  const apply = (e) => { e.preventDefault(); setFilters({ ...draft, status: String(draft.status).trim() }); };
  const clear = () => { setDraft(EMPTY); setFilters(EMPTY); };
  const active = Object.values(filters).some((v) => v !== '');
  const connLabel = { off: t('Paused'), connecting: t('Connecting…'), live: t('Live'), retrying: t('Reconnecting…') }[conn];

  return (
    <div class="page">
      <PageHead title={t('Live log')} sub={t('Every request, newest first. New ones appear as they finish.')}>
        <span class={`live-dot live-${conn}`} role="status" aria-live="polite" data-testid="live-status">{connLabel}</span>
        <button type="button" class="btn" aria-pressed={live ? 'true' : 'false'} onClick={() => setLive(!live)}>{live ? t('Pause') : t('Resume')}</button>
      </PageHead>
      <form class="card filters" onSubmit={apply} aria-label={t('Filters')}>
        <Field label={t('Model')} value={draft.model} onInput={(v) => setDraft({ ...draft, model: v })} placeholder="gpt-4o" />
        <Field label={t('User id')} value={draft.user} onInput={(v) => setDraft({ ...draft, user: v })} placeholder="usr_…" />
        <Field label={t('Key id')} value={draft.key} onInput={(v) => setDraft({ ...draft, key: v })} placeholder="key_…" />
        <Field label={t('Channel')} type="select" value={draft.channel} onInput={(v) => setDraft({ ...draft, channel: v })}
          options={[{ value: '', label: t('Any') }, ...nm.channelList.map((c) => ({ value: c.id, label: c.name }))]} />
        <Field label={t('Status')} type="number" min="100" max="599" value={draft.status} onInput={(v) => setDraft({ ...draft, status: v })} placeholder="429" />
        <div class="filter-actions">
          <button type="submit" class="btn btn-primary">{t('Apply')}</button>
          {active && <button type="button" class="btn" onClick={clear}>{t('Clear')}</button>}
        </div>
      </form>
      <ErrorBox error={error} onRetry={() => loadPage(null)} />
      <p class="sr-only" aria-live="polite">{fresh ? t('{n} new requests', { n: fresh }) : ''}</p>
      {entries.length ? (
        <div class="card card-flush">
          <Table caption={t('Requests')} head={[t('Time'), t('Status'), t('Model'), t('User'), t('Channel'), t('Tokens'), t('Latency'), t('Cost')]} class="log-table">
            {entries.map((e) => (
              <tr key={e.id} class="clickable" onClick={() => setSelected(e)} data-request-id={e.request_id}>
                <td><button type="button" class="link-btn" onClick={(ev) => { ev.stopPropagation(); setSelected(e); }} aria-label={t('Details of the request at {time}', { time: time(e.time) })}>{shortTime(e.time)}</button></td>
                <td><HttpStatus status={e.status} />{e.stream && <span class="sub"> {t('stream')}</span>}</td>
                <td class="mono">{e.model}{e.upstream_model && e.upstream_model !== e.model && <span class="sub"> → {e.upstream_model}</span>}</td>
                <td>{nm.users[e.user_id] || e.user_id || '—'}</td>
                <td>{nm.channels[e.channel_id] || e.channel_id || '—'}</td>
                <td class="num">{num(e.prompt_tokens ?? 0)} / {num(e.completion_tokens ?? 0)}</td>
                <td class="num">{ms(e.latency_ms)}</td>
                <td class="num">{money(e.cost)}</td>
              </tr>
            ))}
          </Table>
          {next && (
            <div class="card-foot">
              <button type="button" class="btn" disabled={loading} onClick={() => loadPage(next)}>{t('Load older')}</button>
            </div>
          )}
        </div>
      ) : loading ? <Loading /> : (
        <Empty icon="≋" title={active ? t('No requests match these filters') : t('No requests yet')}>
          <p>{live ? t('Waiting for traffic… new requests appear here as they finish.') : ''}</p>
        </Empty>
      )}
      {selected && <Detail entry={selected} names={nm} onClose={() => setSelected(null)} />}
    </div>
  );
}
