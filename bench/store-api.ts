/** The store and API benchmarks. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ActivationRecord } from '../common/activation.ts';
import { newAction } from '../common/entities.ts';
import { openStore } from '../common/store/open.ts';
import { basic, standaloneStore, type StoreOpener, startTestServer } from '../test/support/server.ts';
import { concurrent as concurrentRow, now, rows, timed as timedRow } from './table.ts';

function activation(i: number): ActivationRecord {
  const start = Date.now();
  return {
    activationId: randomBytes(16).toString('hex'),
    namespace: 'guest',
    name: `bench${i % 10}`,
    subject: 'guest',
    version: '0.0.1',
    publish: false,
    start,
    end: start + 5,
    duration: 5,
    annotations: [{ key: 'path', value: `guest/bench${i % 10}` }],
    logs: ['2026-01-01T00:00:00.000Z stdout: hello'],
    response: { status: 'success', statusCode: 0, success: true, result: { ok: true } },
  };
}

/** The stores side by side: standalone's (lmdb, in the process) and the embedded CouchDB-API server (through nano). */
const SETUPS: Array<[string, StoreOpener]> = [
  ['lmdb', standaloneStore],
  ['couchdb-api', openStore],
];

export async function benchStoreAndApi(): Promise<void> {
  for (const [name, open] of SETUPS) await benchOne(name, open);
}

async function benchOne(setup: string, open: StoreOpener): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swirl-bench-'));
  const server = await startTestServer({}, dataDir, open);
  const { store } = server.opened;
  const timed = (what: string, n: number, fn: (i: number) => Promise<unknown>) => timedRow(`[${setup}] ${what}`, n, fn);
  const concurrent = (what: string, n: number, clients: number, fn: (i: number) => Promise<unknown>) => concurrentRow(`[${setup}] ${what}`, n, clients, fn);
  try {
    process.stdout.write(`${setup}: store…`);
    await timed('store: single insert (action)', 300, (i) =>
      store.put('action', newAction({ namespace: 'guest', name: `s${i}`, callerNamespace: 'guest' }, { exec: { kind: 'nodejs:20', code: 'function main(){return {}}' } })),
    );
    await timed('store: get (action)', 300, (i) => store.get('action', 'guest', `s${i}`));
    const batches = 40;
    const batch = 250;
    const t0 = now();
    for (let b = 0; b < batches; b++) await store.putActivations(Array.from({ length: batch }, (_, i) => activation(b * batch + i)));
    const ms = now() - t0;
    rows.push({ what: `[${setup}] store: activation record writes (putActivations, ${batch}/batch)`, n: batches * batch, rate: ((batches * batch) / ms) * 1000, unit: 'docs/s' });
    await timed('store: list 30 actions (view)', 100, () => store.list('action', { namespace: 'guest' }, { limit: 30, skip: 0 }));

    process.stdout.write(' api… ');
    const auth = { authorization: basic(server.guestKey), 'content-type': 'application/json' };
    const body = JSON.stringify({ exec: { kind: 'nodejs:20', code: 'function main(){return {}}' } });
    await timed('api: PUT action (create)', 300, (i) => fetch(`${server.api}/namespaces/_/actions/a${i}`, { method: 'PUT', headers: auth, body }).then((r) => r.arrayBuffer()));
    await timed('api: GET action', 300, (i) => fetch(`${server.api}/namespaces/_/actions/a${i}`, { headers: auth }).then((r) => r.arrayBuffer()));
    await concurrent('api: entity GETs (action), 32 clients', 3000, 32, (i) => fetch(`${server.api}/namespaces/_/actions/a${i % 300}`, { headers: auth }).then((r) => r.arrayBuffer()));
    await timed('api: list actions (limit 30)', 100, () => fetch(`${server.api}/namespaces/_/actions?limit=30`, { headers: auth }).then((r) => r.arrayBuffer()));
    await timed('api: 401 (bad key)', 300, () => fetch(`${server.api}/namespaces`, { headers: { authorization: basic(server.guestKey + 'x') } }).then((r) => r.arrayBuffer()));
    const big = JSON.stringify({ exec: { kind: 'nodejs:20', code: 'x'.repeat(8 * 1024 * 1024) } });
    await timed('api: PUT action with 8 MiB code (attachment)', 10, (i) => fetch(`${server.api}/namespaces/_/actions/big${i}`, { method: 'PUT', headers: auth, body: big }).then((r) => r.arrayBuffer()));
    rows.push({ what: `[${setup}] controller process RSS after the run`, n: 1, rate: process.memoryUsage().rss / 1024 / 1024, unit: 'MiB' });
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
