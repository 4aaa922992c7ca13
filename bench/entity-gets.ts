/**
 * Entity GETs at 32 clients against standalone, through the entity cache and with it off
 * (every read from the store). The client runs in a process of its own (bench/get-load.ts):
 * an in-process fetch() client costs more CPU than the controller serving it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { basic, startTestServer } from '../test/support/server.ts';
import { rows } from './table.ts';

const ACTIONS = 300;
const CLIENTS = 32;
const REQUESTS = 20_000;

async function entityGets(label: string, env: Record<string, string>, target?: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swirl-bench-'));
  const server = await startTestServer({ SWIRL_PREWARM: '[]', ...env }, dataDir);
  try {
    const authorization = basic(server.guestKey);
    const body = JSON.stringify({ exec: { kind: 'nodejs:20', code: 'function main(){return {}}' } });
    for (let i = 0; i < ACTIONS; i++) {
      await fetch(`${server.api}/namespaces/_/actions/g${i}`, { method: 'PUT', headers: { authorization, 'content-type': 'application/json' }, body }).then((r) => r.arrayBuffer());
    }
    const load = (n: number) => promisify(execFile)('node', ['--import', 'tsx', join(import.meta.dirname, 'get-load.ts'), `${server.api}/namespaces/_/actions/g`, authorization, String(n), String(CLIENTS), String(ACTIONS)]);
    await load(2_000); // warm-up
    const out = JSON.parse((await load(REQUESTS)).stdout) as { rate: number; p50: number; p99: number; statuses: Record<string, number> };
    if (out.statuses['200'] !== REQUESTS) throw new Error(`entity GETs: not all 200: ${JSON.stringify(out.statuses)}`);
    rows.push({ what: `api: GET action, ${CLIENTS} clients (own process), ${label}`, n: REQUESTS, p50: out.p50, p99: out.p99, rate: out.rate, unit: 'req/s', ...(target ? { target } : {}) });
  } finally {
    await server.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchEntityGets(): Promise<void> {
  process.stdout.write(' entity GETs…');
  await entityGets('entity cache off (store)', { SWIRL_ENTITY_CACHE_MS: '0' });
  await entityGets('entity cache on', {}, '≥ 5,000/s');
}
