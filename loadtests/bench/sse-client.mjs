// Time to the first SSE event, measured the same way against several targets.
//
//   node sse-client.mjs '<json>'   with {"targets": [{"name", "port", "path", "key"}], "n": 300, "warmup": 20,
//                                       "body": "<request body>", "timeout_ms": 10000, "gap_ms": 3}
//
// One keep-alive HTTP/1.1 connection per target; the targets take turns, one request at a time (the order rotates
// every round, so a drift of the machine hits all of them alike), gap_ms apart. For each request: the time from writing it to
// the end of the first complete event ("data: ...\n\n") and to the end of the response, in microseconds
// (process.hrtime). Prints one JSON object: {"<name>": {"first_event_us": [...], "events_us": [[...], ...],
// "end_us": [...], "errors": N}}.
import net from 'node:net';

const cfg = JSON.parse(process.argv[2]);
const now = () => process.hrtime.bigint();
const us = (a, b) => Number(b - a) / 1000;

class Conn {
  constructor(t) {
    this.t = t;
    this.waiter = null;
    this.sock = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect({ host: '127.0.0.1', port: this.t.port }, resolve);
      this.sock.setNoDelay(true);
      this.sock.once('error', reject);
      this.sock.on('data', (d) => this.waiter && this.waiter(d));
      this.sock.on('close', () => this.waiter && this.waiter(null));
    });
  }

  // One request; resolves {first, events, end} in µs from the write, or rejects.
  request(body) {
    const head = `POST ${this.t.path} HTTP/1.1\r\nHost: 127.0.0.1:${this.t.port}\r\n` +
      `Authorization: Bearer ${this.t.key}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      let raw = Buffer.alloc(0);
      let headerDone = false;
      let chunked = false;
      let remaining = -1; // content-length left, when not chunked
      let text = ''; // decoded body
      let scanned = 0;
      const events = [];
      let t0;
      const timer = setTimeout(() => { this.waiter = null; reject(new Error('timeout')); }, cfg.timeout_ms || 10000);
      const finish = (err, v) => {
        clearTimeout(timer);
        this.waiter = null;
        if (err) reject(err); else resolve(v);
      };
      this.waiter = (d) => {
        const t = now();
        if (d === null) return finish(new Error('connection closed'));
        raw = Buffer.concat([raw, d]);
        if (!headerDone) {
          const i = raw.indexOf('\r\n\r\n');
          if (i < 0) return undefined;
          const h = raw.subarray(0, i).toString('latin1');
          const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(h)?.[1]);
          if (status !== 200) return finish(new Error(`status ${status}`));
          chunked = /\r\ntransfer-encoding:\s*chunked/i.test(h);
          const cl = /\r\ncontent-length:\s*(\d+)/i.exec(h);
          remaining = cl ? Number(cl[1]) : -1;
          headerDone = true;
          raw = raw.subarray(i + 4);
        }
        let ended = false;
        if (chunked) {
          for (;;) {
            const nl = raw.indexOf('\r\n');
            if (nl < 0) break;
            const size = parseInt(raw.subarray(0, nl).toString('latin1'), 16);
            if (Number.isNaN(size)) return finish(new Error('bad chunk'));
            if (raw.length < nl + 2 + size + 2) break;
            if (size === 0) { ended = true; raw = raw.subarray(nl + 4); break; }
            text += raw.subarray(nl + 2, nl + 2 + size).toString('latin1');
            raw = raw.subarray(nl + 2 + size + 2);
          }
        } else {
          text += raw.toString('latin1');
          if (remaining >= 0) { remaining -= raw.length; ended = remaining <= 0; }
          raw = Buffer.alloc(0);
        }
        for (;;) {
          const e = text.indexOf('\n\n', scanned);
          if (e < 0) break;
          events.push(us(t0, t));
          scanned = e + 2;
        }
        if (ended || (!chunked && remaining < 0 && text.includes('data: [DONE]\n\n'))) {
          if (!text.includes('data: [DONE]')) return finish(new Error('stream without [DONE]'));
          return finish(null, { first: events[0], events, end: us(t0, t) });
        }
        return undefined;
      };
      t0 = now();
      this.sock.write(head + body);
    });
  }
}

const conns = cfg.targets.map((t) => new Conn(t));
for (const c of conns) await c.connect();
const out = {};
for (const t of cfg.targets) out[t.name] = { first_event_us: [], events_us: [], end_us: [], errors: 0, error: null };
const rounds = (cfg.warmup || 0) + cfg.n;
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < conns.length; k++) {
    const c = conns[(r + k) % conns.length];
    const o = out[c.t.name];
    // a pause between requests, so that what a server does after a response (AiHub settles the request) is over
    // before the next target is measured
    if (cfg.gap_ms) await new Promise((r) => setTimeout(r, cfg.gap_ms));
    try {
      const v = await c.request(cfg.body);
      if (r >= (cfg.warmup || 0)) {
        o.first_event_us.push(v.first);
        o.events_us.push(v.events);
        o.end_us.push(v.end);
      }
    } catch (e) {
      o.errors++;
      o.error = String(e.message || e);
      c.sock.destroy();
      await c.connect();
    }
  }
}
for (const c of conns) c.sock.destroy();
process.stdout.write(`${JSON.stringify(out)}\n`);
