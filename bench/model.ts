/**
 * The programming model on `npm start` (standalone, Docker containers), each against a
 * plain warm action: a sequence's cost per component, a binding's, a web action's, and a
 * trigger fire's (accepted, and until its rule's action has run).
 */
import Dockerode from 'dockerode';
import { http, INVOKER_ID, standalone } from './invoke.ts';
import { now, pct, rows } from './table.ts';

const SEQUENTIAL = 500;
const FIRES = 300;

export async function benchModel(): Promise<void> {
  const docker = new Dockerode();
  await docker.ping();
  const setup = await standalone({ SWIRL_LIMIT_FIRES_PER_MINUTE: '10000000' });
  const { api, key } = setup;
  const ns = `${api}/namespaces/_`;
  const put = async (path: string, body: unknown) => {
    const r = await http('PUT', `${ns}${path}?overwrite=true`, JSON.stringify(body), key);
    if (r.status !== 200) throw new Error(`PUT ${path}: ${r.status} ${r.text}`);
  };
  const noop = { exec: { kind: 'nodejs:20', code: 'function main(p) { return p }' }, limits: { memory: 128 } };
  try {
    await put('/packages/p', { parameters: [{ key: 'a', value: 1 }] });
    await put('/actions/p/noop', noop);
    await put('/packages/b', { binding: { namespace: '_', name: 'p' }, parameters: [{ key: 'b', value: 2 }] });
    await put('/actions/noop', noop);
    await put('/actions/seq1', { exec: { kind: 'sequence', components: ['/_/noop'] } });
    await put('/actions/seq3', { exec: { kind: 'sequence', components: ['/_/noop', '/_/noop', '/_/noop'] } });
    await put('/actions/web', { ...noop, annotations: [{ key: 'web-export', value: true }] });
    await put('/triggers/t', {});
    await put('/rules/r', { trigger: 't', action: 'noop' });

    const paths: Array<[string, string, string]> = [
      ['plain action, blocking invoke', 'POST', `${ns}/actions/noop?blocking=true`],
      ['action in a package', 'POST', `${ns}/actions/p/noop?blocking=true`],
      ['the same action through a binding', 'POST', `${ns}/actions/b/noop?blocking=true`],
      ['sequence of 1', 'POST', `${ns}/actions/seq1?blocking=true`],
      ['sequence of 3', 'POST', `${ns}/actions/seq3?blocking=true`],
      ['web action (.json, no credentials)', 'GET', `${api}/web/guest/default/web.json`],
    ];
    // warm a container (the invoker may still be starting), then interleave the kinds so all see the same machine
    for (let i = 0; ; i++) {
      if ((await http('POST', `${ns}/actions/noop?blocking=true`, '{}', key)).status === 200) break;
      if (i > 300) throw new Error('the action does not run');
      await new Promise((ok) => setTimeout(ok, 100));
    }
    const times = paths.map(() => [] as number[]);
    for (let i = 0; i < SEQUENTIAL; i++) {
      for (const [j, [what, method, url]] of paths.entries()) {
        const t0 = now();
        const r = await http(method, url, method === 'GET' ? undefined : '{}', method === 'GET' ? undefined : key);
        times[j]!.push(now() - t0);
        if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.text}`);
      }
    }
    const plain = pct(times[0]!, 50);
    for (const [j, [what]] of paths.entries()) rows.push({ what: `model: ${what}`, n: SEQUENTIAL, p50: pct(times[j]!, 50), p99: pct(times[j]!, 99), unit: 'ms' });
    rows.push({ what: 'model: a sequence component over a plain invoke (p50, seq3 − seq1 per step)', n: SEQUENTIAL, p50: (pct(times[4]!, 50) - pct(times[3]!, 50)) / 2, unit: 'ms' });
    rows.push({ what: 'model: a sequence of 1 over a plain invoke (p50)', n: SEQUENTIAL, p50: pct(times[3]!, 50) - plain, unit: 'ms' });

    // fires: the 202, then until the rule's action has its record
    const accepted: number[] = [];
    const ran: number[] = [];
    for (let i = 0; i < FIRES; i++) {
      const t0 = now();
      const r = await http('POST', `${ns}/triggers/t`, JSON.stringify({ i }), key);
      accepted.push(now() - t0);
      if (r.status !== 202) throw new Error(`fire: ${r.status} ${r.text}`);
      const id = (JSON.parse(r.text) as { activationId: string }).activationId;
      const fired = await until(async () => {
        const rec = await http('GET', `${ns}/activations/${id}`, undefined, key);
        if (rec.status !== 200) return undefined;
        const line = JSON.parse((JSON.parse(rec.text) as { logs: string[] }).logs[0]!) as { activationId: string };
        return (await http('GET', `${ns}/activations/${line.activationId}`, undefined, key)).status === 200 || undefined;
      });
      if (!fired) throw new Error('a fired rule did not run within 10 s');
      ran.push(now() - t0);
    }
    rows.push({ what: 'model: trigger fire accepted (202, one rule)', n: FIRES, p50: pct(accepted, 50), p99: pct(accepted, 99), unit: 'ms' });
    rows.push({ what: "model: trigger fire until its rule's activation is stored", n: FIRES, p50: pct(ran, 50), p99: pct(ran, 99), unit: 'ms' });
  } finally {
    await setup.stop();
    const left = await docker.listContainers({ all: true, filters: { label: [`swirl.invoker=${INVOKER_ID}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  }
}

/** Poll (every 2 ms, at most 10 s) until `probe` gives a value. */
async function until<T>(probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((ok) => setTimeout(ok, 2));
  }
  return undefined;
}
