// Shared pieces: labelled fields, dialogs, the live announcer, tables, badges.
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n.js';

// ---- data loading ----------------------------------------------------------

/** Runs an async loader on mount and when deps change: {data, error, loading, reload, setData} */
export function useLoad(loader, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const reload = useCallback(() => {
    const my = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    return Promise.resolve().then(loader).then(
      (data) => { if (my === seq.current) setState({ data, error: null, loading: false }); },
      (error) => { if (my === seq.current) setState({ data: null, error, loading: false }); },
    );
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { reload(); }, [reload]);
  return { ...state, reload, setData: (data) => setState((s) => ({ ...s, data })) };
}

// ---- announcements (aria-live) and toasts ----------------------------------

const ToastCtx = createContext(() => {});
export const useNotify = () => useContext(ToastCtx);

export function ToastProvider({ children }) {
  const [items, setItems] = useState([]);
  const notify = useCallback((text, kind = 'ok') => {
    const id = Math.random().toString(36).slice(2);
    setItems((xs) => [...xs.slice(-3), { id, text, kind }]);
    setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== id)), kind === 'error' ? 8000 : 4000);
  }, []);
  return (
    <ToastCtx.Provider value={notify}>
      {children}
      <div class="toasts" role="status" aria-live="polite" aria-atomic="false">
        {items.map((x) => (
          <div key={x.id} class={`toast toast-${x.kind}`}>{x.text}</div>
        ))}
      </div>
    </ToastCtx.Provider>
  );
}

// ---- confirm dialog (promise based) ----------------------------------------

const ConfirmCtx = createContext(async () => false);
export const useConfirm = () => useContext(ConfirmCtx);

export function ConfirmProvider({ children }) {
  const [ask, setAsk] = useState(null);
  const confirm = useCallback((text, { danger = true, ok = t('Confirm') } = {}) => new Promise((resolve) => {
    setAsk({ text, danger, ok, resolve });
  }), []);
  const close = (v) => {
    ask?.resolve(v);
    setAsk(null);
  };
  return (
    <ConfirmCtx.Provider value={confirm}>
      {children}
      <Dialog open={!!ask} title={t('Are you sure?')} onClose={() => close(false)} size="small">
        <p>{ask?.text}</p>
        <div class="actions">
          <button type="button" class="btn" onClick={() => close(false)}>{t('Cancel')}</button>
          <button type="button" class={`btn ${ask?.danger ? 'btn-danger' : 'btn-primary'}`} onClick={() => close(true)} data-autofocus>{ask?.ok}</button>
        </div>
      </Dialog>
    </ConfirmCtx.Provider>
  );
}

// ---- dialog ------------------------------------------------------------------

/** A modal <dialog>: focus moves in (to [data-autofocus] or the first field), Esc closes, focus returns. */
export function Dialog({ open, title, onClose, children, size = '' }) {
  const ref = useRef(null);
  const titleId = useId();
  const opener = useRef(null);
  const wanted = useRef(open);
  wanted.current = open;
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement;
      d.showModal();
      const f = d.querySelector('[data-autofocus]') || d.querySelector('input:not([type=hidden]), select, textarea, button:not(.dialog-close)');
      f?.focus();
    } else if (!open && d.open) {
      d.close();
    }
  }, [open]);
  // however it closed (our state, Escape, the browser): focus goes back to what opened it
  const closed = () => {
    const back = opener.current;
    opener.current = null;
    if (back && back.isConnected && back !== document.body) back.focus();
    if (wanted.current) onCloseRef.current?.();
  };
  return (
    <dialog ref={ref} class={`dialog ${size ? `dialog-${size}` : ''}`} aria-labelledby={titleId}
      onClose={closed}
      onClick={(e) => { if (e.target === ref.current) onClose?.(); }}>
      {open && (
        <div class="dialog-body">
          <header class="dialog-head">
            <h2 id={titleId}>{title}</h2>
            <button type="button" class="icon-btn dialog-close" aria-label={t('Close')} onClick={onClose}>×</button>
          </header>
          {children}
        </div>
      )}
    </dialog>
  );
}

// ---- form fields ------------------------------------------------------------

/** A labelled input. type "textarea" and "select" (with options [{value,label}]) too. */
export function Field({ label, hint, type = 'text', value, onInput, options, error, class: cls = '', inputClass = '', ...rest }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errId = error ? `${id}-err` : undefined;
  const describedBy = [hintId, errId].filter(Boolean).join(' ') || undefined;
  const common = { id, 'aria-describedby': describedBy, 'aria-invalid': error ? 'true' : undefined, class: inputClass, ...rest };
  let control;
  if (type === 'textarea') {
    control = <textarea {...common} value={value ?? ''} onInput={(e) => onInput?.(e.currentTarget.value)} />;
  } else if (type === 'select') {
    control = (
      <select {...common} value={value ?? ''} onChange={(e) => onInput?.(e.currentTarget.value)}>
        {options.map((o) => <option key={o.value} value={o.value}>{o.label ?? o.value}</option>)}
      </select>
    );
  } else if (type === 'checkbox') {
    return (
      <div class={`field field-check ${cls}`}>
        <input type="checkbox" {...common} checked={!!value} onChange={(e) => onInput?.(e.currentTarget.checked)} />
        <label for={id}>{label}</label>
        {hint && <small id={hintId} class="hint">{hint}</small>}
      </div>
    );
  } else {
    control = <input type={type} {...common} value={value ?? ''} onInput={(e) => onInput?.(e.currentTarget.value)} />;
  }
  return (
    <div class={`field ${cls}`}>
      <label for={id}>{label}</label>
      {control}
      {hint && <small id={hintId} class="hint">{hint}</small>}
      {error && <small id={errId} class="field-error">{error}</small>}
    </div>
  );
}

/** Form state helper: [values, set(name)(value), setAll] */
export function useForm(initial) {
  const [v, setV] = useState(initial);
  const set = (k) => (x) => setV((o) => ({ ...o, [k]: x }));
  return [v, set, setV];
}

// ---- small pieces --------------------------------------------------------------

export function ErrorBox({ error, onRetry }) {
  if (!error) return null;
  return (
    <div class="alert alert-error" role="alert">
      <span>{error.status === 403 ? `${t('Your role does not allow this.')} (${error.message})` : error.message || String(error)}</span>
      {onRetry && <button type="button" class="btn btn-small" onClick={onRetry}>{t('Retry')}</button>}
    </div>
  );
}

export function Empty({ title, children, icon = '◌' }) {
  return (
    <div class="empty">
      <div class="empty-icon" aria-hidden="true">{icon}</div>
      <p class="empty-title">{title}</p>
      {children && <div class="empty-text">{children}</div>}
    </div>
  );
}

export function Loading() {
  return <div class="loading" role="status"><span class="spinner" aria-hidden="true" />{t('Loading…')}</div>;
}

export function Badge({ kind = 'neutral', children }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

export function StatusBadge({ status }) {
  const kind = status === 'active' ? 'ok' : status === 'cooling' ? 'warn' : status === 'disabled' ? 'bad' : 'neutral';
  return <Badge kind={kind}>{t(status || 'unknown')}</Badge>;
}

export function HttpStatus({ status }) {
  const s = Number(status);
  const kind = s >= 200 && s < 300 ? 'ok' : s === 429 ? 'warn' : s >= 400 ? 'bad' : 'neutral';
  return <Badge kind={kind}>{status ?? '—'}</Badge>;
}

/**
 * A table with a (visually hidden, if asked) caption. Wide screens: it scrolls
 * sideways inside its card. Phones: each row becomes a stacked block whose
 * cells are labelled with their column (data-label, set here from `head`).
 */
export function Table({ caption, hideCaption = true, head, children, class: cls = '' }) {
  const ref = useRef(null);
  useLayoutEffect(() => {
    for (const tr of ref.current?.tBodies[0]?.rows || []) {
      [...tr.cells].forEach((td, i) => { td.dataset.label = typeof head[i] === 'string' ? head[i] : ''; });
    }
  });
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table class={`table ${cls}`} ref={ref}>
        {caption && <caption class={hideCaption ? 'sr-only' : ''}>{caption}</caption>}
        <thead><tr>{head.map((x, i) => <th key={i} scope="col">{x}</th>)}</tr></thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

export function PageHead({ title, children, sub }) {
  return (
    <div class="page-head">
      <div>
        <h1 tabIndex={-1} id="page-title">{title}</h1>
        {sub && <p class="page-sub">{sub}</p>}
      </div>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}

/** Copies text to the clipboard and says so (aria-live via the toast region). */
export function CopyButton({ text, label = t('Copy') }) {
  const notify = useNotify();
  const [done, setDone] = useState(false);
  const copy = async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      const ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.style.position = 'fixed';
      ta.style.opacity = '0';
      document.body.appendChild(ta);
      ta.select();
      try { ok = document.execCommand('copy'); } catch { ok = false; }
      ta.remove();
    }
    notify(ok ? t('Copied to the clipboard') : t('Copy failed: select the text and copy it'), ok ? 'ok' : 'error');
    if (ok) {
      setDone(true);
      setTimeout(() => setDone(false), 2000);
    }
  };
  return <button type="button" class="btn btn-small" onClick={copy}>{done ? `✓ ${t('Copied')}` : label}</button>;
}

/**
 * Runs an async action with a busy flag and ok/error announcements:
 * resolves to {ok: true, value} or {ok: false, error} (never rejects).
 */
export function useAction() {
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const run = async (fn, okText) => {
    setBusy(true);
    try {
      const value = await fn();
      if (okText) notify(typeof okText === 'function' ? okText(value) : okText, 'ok');
      return { ok: true, value };
    } catch (error) {
      notify(error.message || String(error), 'error');
      return { ok: false, error };
    } finally {
      setBusy(false);
    }
  };
  return [busy, run];
}

/** Parses a JSON textarea value; '' → undefined; throws a readable error */
export function parseJsonField(label, s) {
  if (!s || !s.trim()) return undefined;
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new Error(t('{field}: not valid JSON ({reason})', { field: label, reason: e.message }));
  }
}
