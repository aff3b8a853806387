// The audit log: entries appended with XADD (as the node does) and read back
// a page at a time by audit_list, with filters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsUnchanged, unchanged, useRedis } from './fixtures.mjs';

const h = useRedis();

const append = (e) => h.client.xadd('ah:audit', 'MAXLEN', '~', '1000', '*',
  ...Object.entries({ role: 'admin', via: 'session', target: '', summary: '{}', status: '200', ...e }).flat());
const auditList = ({ before = '', limit = 100, actor = '', action = '', target = '', scan = 10000 } = {}) =>
  h.run('audit_list', ['ah:audit'], [before, String(limit), actor, action, target, String(scan)]);
// entries as {id, ...fields}
const entries = (reply) => reply.slice(1).map(([id, ...kv]) => {
  const o = { id };
  for (let i = 0; i < kv.length; i += 2) o[kv[i]] = kv[i + 1];
  return o;
});

async function seed() {
  const ids = [];
  ids.push(await append({ actor: 'ann@example.com', action: 'POST /api/channels', target: 'ch_1' }));
  ids.push(await append({ actor: 'bob@example.com', action: 'PUT /api/channels/{id}', target: 'ch_1' }));
  ids.push(await append({ actor: 'admin-key', action: 'POST /api/users', target: 'usr_1', via: 'admin_key' }));
  ids.push(await append({ actor: 'ann@example.com', action: 'DELETE /api/keys/{id}', target: 'key_9' }));
  ids.push(await append({ actor: 'ann@example.com', action: 'PUT /api/channels/{id}', target: 'ch_2' }));
  return ids;
}

test('audit_list: everything, newest first, with every field', async () => {
  const ids = await seed();
  const r = await unchanged(h.client, () => auditList());
  assert.equal(r[0], '', 'the whole stream was read');
  const e = entries(r);
  assert.deepEqual(e.map((x) => x.id), [...ids].reverse());
  assert.deepEqual(e[0], {
    id: ids[4], role: 'admin', via: 'session', target: 'ch_2', summary: '{}', status: '200',
    actor: 'ann@example.com', action: 'PUT /api/channels/{id}',
  });
});

test('audit_list: filters by actor (exact), action (contained) and target (exact)', async () => {
  const ids = await seed();
  assert.deepEqual(entries(await auditList({ actor: 'ann@example.com' })).map((x) => x.id), [ids[4], ids[3], ids[0]]);
  assert.deepEqual(entries(await auditList({ actor: 'ann' })), [], 'actor is not a substring match');
  assert.deepEqual(entries(await auditList({ action: 'channels' })).map((x) => x.id), [ids[4], ids[1], ids[0]]);
  assert.deepEqual(entries(await auditList({ action: 'PUT /api/channels/{id}' })).map((x) => x.id), [ids[4], ids[1]]);
  assert.deepEqual(entries(await auditList({ action: '.*' })), [], 'action is plain text, not a pattern');
  assert.deepEqual(entries(await auditList({ target: 'ch_1' })).map((x) => x.id), [ids[1], ids[0]]);
  assert.deepEqual(entries(await auditList({ actor: 'ann@example.com', target: 'ch_1' })).map((x) => x.id), [ids[0]]);
});

test('audit_list: pages with limit and before; next is "" on the last page, even when exactly full', async () => {
  const ids = await seed();
  const p1 = await auditList({ limit: 2 });
  assert.equal(p1[0], ids[3]);
  assert.deepEqual(entries(p1).map((x) => x.id), [ids[4], ids[3]]);
  const p2 = await auditList({ limit: 2, before: p1[0] });
  assert.equal(p2[0], ids[1]);
  assert.deepEqual(entries(p2).map((x) => x.id), [ids[2], ids[1]]);
  const p3 = await auditList({ limit: 2, before: p2[0] });
  assert.equal(p3[0], '');
  assert.deepEqual(entries(p3).map((x) => x.id), [ids[0]]);
  // exactly full last page
  const all = await auditList({ limit: 5 });
  assert.equal(all[0], '');
  assert.equal(entries(all).length, 5);
  // a filtered page: next points past the last entry examined
  const f = await auditList({ actor: 'ann@example.com', limit: 1 });
  assert.deepEqual(entries(f).map((x) => x.id), [ids[4]]);
  assert.equal(f[0], ids[4]);
  const f2 = await auditList({ actor: 'ann@example.com', limit: 1, before: f[0] });
  assert.deepEqual(entries(f2).map((x) => x.id), [ids[3]]);
  // before as a plain millisecond time
  const ms = ids[2].split('-')[0];
  const older = entries(await auditList({ before: ms })).map((x) => x.id);
  assert.ok(older.every((id) => Number(id.split('-')[0]) < Number(ms)));
});

test('audit_list: the scan bound ends a page early, with next to continue', async () => {
  const ids = await seed();
  const r = await auditList({ actor: 'admin-key', scan: 2 });
  assert.deepEqual(entries(r), [], 'the two newest are not by admin-key');
  assert.equal(r[0], ids[3]);
  const r2 = await auditList({ actor: 'admin-key', scan: 2, before: r[0] });
  assert.deepEqual(entries(r2).map((x) => x.id), [ids[2]]);
});

test('audit_list: an empty or missing stream', async () => {
  assert.deepEqual(await auditList(), ['']);
});

test('audit_list malformed calls change nothing', async () => {
  await seed();
  const bad = [
    [['', '0', '', '', '', '10'], /limit must be 1..1000/],
    [['', '1001', '', '', '', '10'], /limit must be 1..1000/],
    [['', '10', '', '', '', '0'], /scan must be 1..100000/],
    [['abc', '10', '', '', '', '10'], /before must be a stream id/],
    [['1-2-3', '10', '', '', '', '10'], /before must be a stream id/],
    [['', '10', '', '', ''], /expected 6 ARGV/],
  ];
  for (const [args, re] of bad) await rejectsUnchanged(h.client, () => h.run('audit_list', ['ah:audit'], args), re);
});
