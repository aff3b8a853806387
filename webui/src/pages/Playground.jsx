// Try the gateway as a client would: a user API key (pasted by the operator,
// kept in this tab only), a model from GET /v1/models, and a streamed chat
// through POST /v1/chat/completions.
import { useRef, useState } from 'preact/hooks';
import { sse } from '../api.js';
import { ms, num } from '../format.js';
import { t } from '../i18n.js';
import { ErrorBox, Field, PageHead } from '../ui.jsx';

const KEY_STORE = 'aihub.playgroundKey';
const loadKey = () => { try { return sessionStorage.getItem(KEY_STORE) || ''; } catch { return ''; } };
const saveKey = (k) => { try { if (k) sessionStorage.setItem(KEY_STORE, k); else sessionStorage.removeItem(KEY_STORE); } catch { /* ignore */ } };

async function clientError(r) {
  const text = await r.text();
  try {
    const j = JSON.parse(text);
    return new Error(`${r.status} ${j.error?.code || ''}: ${j.error?.message || text}`.trim());
  } catch {
    return new Error(`HTTP ${r.status}`);
  }
}

export function Playground() {
  const [key, setKey] = useState(loadKey());
  const [models, setModels] = useState(null);
  const [model, setModel] = useState('');
  const [system, setSystem] = useState('');
  const [prompt, setPrompt] = useState('');
  const [maxTokens, setMaxTokens] = useState('');
  const [temperature, setTemperature] = useState('');
  const [history, setHistory] = useState([]); // [{role, content}]
  const [reply, setReply] = useState(null); // streaming assistant text
  const [stats, setStats] = useState(null);
  const [error, setError] = useState(null);
  const [phase, setPhase] = useState('idle'); // idle | loading-models | waiting | streaming
  const abort = useRef(null);

  const loadModels = async (e) => {
    e?.preventDefault();
    saveKey(key.trim());
    setPhase('loading-models');
    setError(null);
    try {
      const r = await fetch('/v1/models', { headers: { Authorization: `Bearer ${key.trim()}` } });
      if (!r.ok) throw await clientError(r);
      const list = ((await r.json()).data || []).map((m) => m.id).sort();
      setModels(list);
      if (!list.includes(model)) setModel(list[0] || '');
    } catch (x) {
      setModels(null);
      setError(x);
    } finally {
      setPhase('idle');
    }
  };

  const send = async (e) => {
    e.preventDefault();
    if (!prompt.trim() || !model) return;
    const messages = [...(system.trim() ? [{ role: 'system', content: system.trim() }] : []), ...history, { role: 'user', content: prompt.trim() }];
    const body = { model, messages, stream: true, stream_options: { include_usage: true } };
    if (maxTokens) body.max_tokens = Number(maxTokens);
    if (temperature !== '') body.temperature = Number(temperature);
    const userMsg = { role: 'user', content: prompt.trim() };
    setHistory((h) => [...h, userMsg]);
    setPrompt('');
    setReply('');
    setStats(null);
    setError(null);
    setPhase('waiting');
    const ctl = new AbortController();
    abort.current = ctl;
    const started = performance.now();
    let first = null;
    let text = '';
    let usage = null;
    let requestId = null;
    let failed = null;
    try {
      await sse('/v1/chat/completions', (ev) => {
        if (ev.data === '[DONE]') return;
        let j;
        try { j = JSON.parse(ev.data); } catch { return; }
        if (j.error) { failed = new Error(j.error.message || t('The stream ended with an error')); return; }
        if (j.usage) usage = j.usage;
        const delta = j.choices?.[0]?.delta?.content;
        if (delta) {
          if (first === null) { first = performance.now() - started; setPhase('streaming'); }
          text += delta;
          setReply(text);
        }
      }, {
        method: 'POST', body, admin: false, signal: ctl.signal,
        headers: { Authorization: `Bearer ${key.trim()}` },
        onOpen: (r) => { requestId = r.headers.get('x-request-id'); },
      });
    } catch (x) {
      if (!ctl.signal.aborted) failed = x;
    }
    const total = performance.now() - started;
    setHistory((h) => [...h, { role: 'assistant', content: text }]);
    setReply(null);
    setError(failed);
    setStats({ total, first, usage, requestId, stopped: ctl.signal.aborted });
    setPhase('idle');
    abort.current = null;
  };

  const busy = phase === 'waiting' || phase === 'streaming';
  const statusText = phase === 'waiting' ? t('Waiting for the first token…')
    : phase === 'streaming' ? t('Streaming…')
      : stats ? [
        stats.stopped ? t('Stopped') : t('Done'),
        t('{ms} total', { ms: ms(stats.total) }),
        stats.first !== null ? t('first token after {ms}', { ms: ms(stats.first) }) : null,
        stats.usage ? t('{p} prompt + {c} completion tokens', { p: num(stats.usage.prompt_tokens), c: num(stats.usage.completion_tokens) }) : null,
      ].filter(Boolean).join(' · ') : '';

  return (
    <div class="page">
      <PageHead title={t('Playground')} sub={t('Send a chat through the gateway with a user\'s API key and watch it stream.')} />
      <div class="play">
        <aside class="card play-side">
          <form onSubmit={loadModels} class="stack">
            <Field label={t('User API key')} type="password" value={key} onInput={setKey} autocomplete="off" spellcheck={false} placeholder="sk-…"
              hint={t('Kept in this browser tab only. Requests are charged to this key\'s user.')} />
            <button type="submit" class="btn" disabled={!key.trim() || phase === 'loading-models'}>{t('Load models')}</button>
          </form>
          <Field label={t('Model')} type="select" value={model} onInput={setModel} disabled={!models?.length}
            options={models?.length ? models.map((m) => ({ value: m })) : [{ value: '', label: models ? t('No models for this key') : t('Load the models first') }]} />
          <Field label={t('System prompt')} type="textarea" rows={3} value={system} onInput={setSystem} placeholder={t('Optional')} />
          <div class="form-grid">
            <Field label={t('Max tokens')} type="number" min="1" value={maxTokens} onInput={setMaxTokens} placeholder="256" />
            <Field label={t('Temperature')} type="number" min="0" max="2" step="0.1" value={temperature} onInput={setTemperature} placeholder="1" />
          </div>
          {history.length > 0 && <button type="button" class="btn" disabled={busy} onClick={() => { setHistory([]); setStats(null); }}>{t('New conversation')}</button>}
        </aside>
        <section class="card play-main" aria-labelledby="conv-h">
          <h2 id="conv-h" class="sr-only">{t('Conversation')}</h2>
          <div class="transcript" aria-live="polite" aria-busy={busy ? 'true' : 'false'} data-testid="transcript">
            {history.length === 0 && reply === null && <p class="muted transcript-empty">{t('Messages appear here.')}</p>}
            {history.map((m, i) => (
              <div key={i} class={`msg msg-${m.role}`}><div class="msg-role">{m.role === 'user' ? t('You') : model || t('Assistant')}</div><div class="msg-text">{m.content}</div></div>
            ))}
            {reply !== null && (
              <div class="msg msg-assistant msg-live"><div class="msg-role">{model}</div><div class="msg-text" data-testid="streaming-reply">{reply}<span class="caret" aria-hidden="true" /></div></div>
            )}
          </div>
          <ErrorBox error={error} />
          <p class="play-status" role="status" data-testid="play-status">{statusText}{stats?.requestId ? <span class="sub mono"> · {stats.requestId}</span> : null}</p>
          <form class="composer" onSubmit={send}>
            <Field label={t('Message')} type="textarea" rows={3} value={prompt} onInput={setPrompt} class="grow"
              onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e); }} hint={t('Ctrl+Enter sends.')} />
            <div class="composer-actions">
              {busy
                ? <button type="button" class="btn btn-danger-ghost" onClick={() => abort.current?.abort()}>{t('Stop')}</button>
                : <button type="submit" class="btn btn-primary" disabled={!prompt.trim() || !model}>{t('Send')}</button>}
            </div>
          </form>
        </section>
      </div>
    </div>
  );
}
