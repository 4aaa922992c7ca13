import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../support/api.ts';
import { TEST_NETWORK } from '../support/invoker-fixtures.ts';
import { freePort, run, type Spawned } from '../support/process.ts';
import { call } from '../support/server.ts';
import { readGuestKey } from '../../common/guest-key.ts';
import { SequenceJournalMessages } from '../../controller/sequence-journal.ts';
import { ActionMessages } from '../../invoker/service.ts';

const CLIENTS = 24;
/** 202s to collect before the kill (the load goes on while the process group dies). */
const ACCEPTED_BEFORE_KILL = 300;
const RECORD_WAIT_MS = 120_000;

/**
 * Issue 16: nothing accepted is lost. `npm start` (Docker containers) under non-blocking
 * load is killed with SIGKILL — its whole process group, as a power cut of the process
 * would — and started again on the same data directory: every activation that got a 202
 * has a record (it ran, or its record says why not), and every entity made before is there.
 */
describe('standalone: kill -9 under non-blocking load, then restart', function () {
  this.timeout(300_000);
  let dataDir: string;
  let port: number;
  let server: Spawned | undefined;
  const invokerId = String(1000 + Math.floor(Math.random() * 9000));

  const start = async () => {
    server = run('npm', ['start'], {
      SWIRL_DATA_DIR: dataDir,
      SWIRL_PORT: String(port),
      SWIRL_HOST: '127.0.0.1',
      SWIRL_INVOKER_ID: invokerId,
      SWIRL_DOCKER_NETWORK: TEST_NETWORK,
      SWIRL_CONTAINER_FACTORY: 'docker',
      SWIRL_LIMIT_INVOKES_PER_MINUTE: '100000',
      SWIRL_LIMIT_CONCURRENT_INVOKES: '100000',
      SWIRL_LIMIT_FIRES_PER_MINUTE: '100000',
    });
    const [, api] = await server.waitFor(/api: (\S+)/, 120_000);
    return { api: api!, key: readGuestKey(dataDir)! };
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'swirl-crash-'));
    port = await freePort();
  });
  after(async () => {
    server?.killGroup('SIGTERM');
    await server?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finds a record for every accepted activation and every entity after the restart', async () => {
    let { api, key } = await start();
    const put = async (path: string, body: unknown) => {
      const r = await call('PUT', `${api}/namespaces/_/${path}`, { auth: key, body });
      expect(r.status, `PUT ${path}: ${JSON.stringify(r.body)}`).to.equal(200);
    };
    // slow enough that a backlog builds on the bus: 8 containers of 256 MB at 150 ms each
    const code = 'function main(p) { return new Promise((ok) => setTimeout(() => ok({ n: p.n }), 150)) }';
    await put('actions/slow', { exec: { kind: 'nodejs:20', code } });
    // invoked under load, then deleted before the kill: what had not run gets a record saying why
    await put('actions/doomed', { exec: { kind: 'nodejs:20', code } });
    await put('packages/pkg', { parameters: [{ key: 'a', value: 1 }] });
    await put('actions/pkg/inside', { exec: { kind: 'nodejs:20', code: 'function main() { return {} }' } });
    await put('triggers/tick', {});
    await put('rules/onTick', { trigger: '/_/tick', action: '/_/slow' });
    // run by the controller: a sequence the kill interrupts gets a record saying so
    await put('actions/chain', { exec: { kind: 'sequence', components: ['/guest/slow', '/guest/slow', '/guest/slow'] } });
    const entities = ['actions/slow', 'packages/pkg', 'actions/pkg/inside', 'triggers/tick', 'rules/onTick', 'actions/chain'];

    const accepted: string[] = [];
    const refused = new Map<number | string, number>();
    let killed = false;
    let sent = 0;
    const client = async (c: number) => {
      while (!killed) {
        const n = sent++;
        // a few fires and sequences among the invokes: their records are the controller's
        const path = n % 25 === 0 ? 'triggers/tick' : n % 25 === 12 ? 'actions/chain' : `actions/${c % 4 === 0 && n < 120 ? 'doomed' : 'slow'}`;
        try {
          const r = await call('POST', `${api}/namespaces/_/${path}`, { auth: key, body: { n } });
          if (r.status === 202) accepted.push(r.body.activationId as string);
          else refused.set(r.status, (refused.get(r.status) ?? 0) + 1);
        } catch (e) {
          const code = ((e as Error).cause as { code?: string } | undefined)?.code ?? (e as Error).message;
          refused.set(code, (refused.get(code) ?? 0) + 1);
          if (killed) return;
          await sleep(5);
        }
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    const deadline = Date.now() + 120_000;
    while (accepted.length < ACCEPTED_BEFORE_KILL / 3 && Date.now() < deadline) await sleep(10);
    expect((await call('DELETE', `${api}/namespaces/_/actions/doomed`, { auth: key })).status).to.equal(200);
    while (accepted.length < ACCEPTED_BEFORE_KILL && Date.now() < deadline) await sleep(10);
    expect(accepted.length, `202s before the kill (refused: ${JSON.stringify([...refused])})`).to.be.at.least(ACCEPTED_BEFORE_KILL);
    server!.killGroup('SIGKILL');
    await server!.exited;
    killed = true;
    await load;
    server = undefined;

    ({ api, key } = await start());
    const missing = new Set(accepted);
    const records = new Map<string, { statusCode: number; result: unknown }>();
    const until = Date.now() + RECORD_WAIT_MS;
    while (missing.size > 0 && Date.now() < until) {
      for (const id of [...missing]) {
        const r = await call('GET', `${api}/namespaces/_/activations/${id}`, { auth: key });
        if (r.status === 200) {
          missing.delete(id);
          records.set(id, { statusCode: r.body.response.statusCode as number, result: r.body.response.result });
        } else expect(r.status, `GET activation ${id}`).to.equal(404);
      }
      if (missing.size > 0) await sleep(500);
    }
    const after = server!.stdout();
    const redelivered = (after.match(/"msg":"activation already ran; answering from its record"/g) ?? []).length;
    type Outcome = { statusCode: number; result: unknown };
    const says = (r: Outcome, code: number, text: string) => r.statusCode === code && JSON.stringify(r.result).includes(text);
    const removed = (r: Outcome) => says(r, 1, ActionMessages.actionRemoved);
    const interrupted = (r: Outcome) => says(r, 3, SequenceJournalMessages.interrupted);
    const count = (f: (r: Outcome) => boolean) => [...records.values()].filter(f).length;
    console.log(
      `      ${accepted.length} accepted before the kill; ${records.size} recorded after the restart (${count(removed)} saying the action was deleted, ${count(interrupted)} sequences saying they were interrupted; ${redelivered} redelivered ones answered from an existing record); ${missing.size} lost`,
    );
    expect([...missing], 'accepted activations without a record').to.deep.equal([]);
    // each ran (success) or says why not (the action was deleted meanwhile, the sequence was interrupted)
    for (const [id, r] of records) expect(r.statusCode === 0 || removed(r) || interrupted(r), `record ${id}: ${JSON.stringify(r)}`).to.equal(true);
    for (const path of entities) expect((await call('GET', `${api}/namespaces/_/${path}`, { auth: key })).status, path).to.equal(200);
  });
});
