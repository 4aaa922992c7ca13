import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import type { Container, LogSegment } from '../../common/container.ts';
import { silentLogger } from '../../common/logger.ts';
import { ActivationRunner } from '../../invoker/activation-runner.ts';
import type { ContainerEnd, ContainerPool, Lease, PlacementRequest } from '../../invoker/pool.ts';
import type { ProxyClient, ProxyResponse } from '../../invoker/proxy-client.ts';
import { testAction, testJob } from '../support/invoker-fixtures.ts';

/** What the runner asked of the pool and the container: a fresh container per acquire, answers from `answer`. */
function harness(answer: (path: string) => ProxyResponse, streams: { inlineLogs?: boolean; lines?: string[] } = {}) {
  const sent: Array<{ path: string; body: Record<string, any>; logLimit?: number }> = [];
  /** How long each take of the streams' output was allowed to wait. */
  const waits: number[] = [];
  const placed: PlacementRequest[] = [];
  const ends: ContainerEnd[] = [];
  const container = (kind: string): Container => ({
    id: 'c',
    spec: { kind, image: 'img', memoryMb: 256, name: 'n' },
    address: '127.0.0.1:1',
    exited: new Promise(() => undefined),
    pause: async () => undefined,
    resume: async () => undefined,
    destroy: async () => undefined,
    inlineLogs: streams.inlineLogs ?? false,
    logs: async (_limit: number, waitMs: number): Promise<LogSegment> => {
      waits.push(waitMs);
      return { lines: streams.lines ?? [], truncated: false, complete: !streams.inlineLogs };
    },
  });
  const pool = {
    acquire: async (req: PlacementRequest) => {
      placed.push(req);
      return { container: container(req.kind), start: 'cold', needsInit: true, shared: false, running: true } as unknown as Lease;
    },
    initialized: () => undefined,
    release: (_lease: Lease, end: ContainerEnd = 'keep') => void ends.push(end),
  } as unknown as ContainerPool;
  const client = {
    post: async (_address: string, path: string, body: Record<string, any>, _timeout: number, _abort: unknown, _token: unknown, logLimit?: number) => {
      sent.push({ path, body, ...(logLimit !== undefined ? { logLimit } : {}) });
      return answer(path);
    },
  } as unknown as ProxyClient;
  const runner = new ActivationRunner({ pool, client, store: async () => undefined, imageOf: (k) => `runtime-${k}`, log: silentLogger, apiHost: 'http://api:3233' });
  return { runner, sent, placed, ends, waits };
}

const ok = (body: unknown, status = 200): ProxyResponse => {
  const text = JSON.stringify(body);
  return { status, body: text, truncated: false, size: text.length };
};

describe('activation runner: what it sends a runtime, and what becomes of the container', () => {
  it("sends /init OpenWhisk's env (the activation's __OW_ variables, the API host, the key only with provide-api-key) and no code for an image without", async () => {
    const h = harness((path) => ok(path === '/init' ? { ok: true } : { done: true }));
    const action = testAction('', { kind: 'blackbox', image: 'me/tool:1', name: 'tool', annotations: [{ key: 'provide-api-key', value: true }], limits: { timeout: 5_000 } });
    const job = testJob(action, { a: 1 }, { apiKey: 'u:k', transactionId: 'tid-1' });
    const before = Date.now();
    await h.runner.run(job);
    const init = h.sent.find((s) => s.path === '/init')!.body.value;
    expect(init).to.not.have.property('code');
    expect(init).to.include({ name: 'tool', main: 'main', binary: false });
    expect(init.env).to.include({
      __OW_API_HOST: 'http://api:3233',
      __OW_API_KEY: 'u:k',
      __OW_NAMESPACE: 'guest',
      __OW_ACTION_NAME: '/guest/tool',
      __OW_ACTION_VERSION: '0.0.1',
      __OW_ACTIVATION_ID: job.activationId,
      __OW_TRANSACTION_ID: 'tid-1',
    });
    expect(Number(init.env.__OW_DEADLINE)).to.be.within(before + 5_000, Date.now() + 5_000);
    const run = h.sent.find((s) => s.path === '/run')!.body;
    expect(run).to.include({ api_key: 'u:k', activation_id: job.activationId, namespace: 'guest' });
    expect(run.value).to.deep.equal({ a: 1 });

    const keyless = harness((path) => ok(path === '/init' ? { ok: true } : {}));
    await keyless.runner.run(testJob(testAction('function main() {}'), {}, { apiKey: 'u:k' }));
    const keylessInit = keyless.sent[0]!.body.value;
    expect(keylessInit.code).to.equal('function main() {}');
    expect(keylessInit.env).to.not.have.property('__OW_API_KEY');
    expect(keyless.sent[1]!.body).to.not.have.property('api_key');
  });

  it('keeps the container after success and an application error, retires it after a developer error', async () => {
    const outcomes: Array<[ProxyResponse, ContainerEnd]> = [
      [ok({ fine: true }), 'keep'],
      [ok({ error: 'not found' }), 'keep'],
      [ok({ error: 'An error has occurred: boom' }, 502), 'retire'],
      [ok([1, 2]), 'retire'],
    ];
    for (const [answer, end] of outcomes) {
      const h = harness((path) => (path === '/init' ? ok({ ok: true }) : answer));
      const rec: ActivationRecord = await h.runner.run(testJob(testAction('function main() {}')));
      expect(h.ends, `${answer.body} → ${rec.response.status}`).to.deep.equal([end]);
    }
  });

  it('runs an image of the user\'s one activation at a time per container (its output has no end markers), whatever its concurrency limit', async () => {
    const h = harness((path) => ok(path === '/init' ? { ok: true } : {}));
    await h.runner.run(testJob(testAction('', { kind: 'blackbox', image: 'me/tool:1', limits: { concurrency: 5 } })));
    await h.runner.run(testJob(testAction('function main() {}', { limits: { concurrency: 5 } })));
    expect(h.placed.map((p) => p.concurrency)).to.deep.equal([1, 5]);
  });

  it("takes the logs a runtime answers with (the init's first, output that bypassed it merged in by time), without waiting on the streams", async () => {
    const t = (ms: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ms)).toISOString();
    const withLogs = (body: unknown, lines: string[], truncated = false): ProxyResponse => ({ ...ok(body), logs: { lines, truncated } });
    const h = harness((path) => (path === '/init' ? withLogs({ ok: true }, [`${t(1)} stdout: loading`]) : withLogs({ done: true }, [`${t(3)} stdout: running`, `${t(5)} stderr: done`])), {
      inlineLogs: true,
      lines: [`${t(4)} stdout: from a child`],
    });
    const rec = await h.runner.run(testJob(testAction('function main() {}', { limits: { logs: 2 } })));
    expect(rec.logs).to.deep.equal([`${t(1)} stdout: loading`, `${t(3)} stdout: running`, `${t(4)} stdout: from a child`, `${t(5)} stderr: done`]);
    expect(h.waits).to.deep.equal([0]);
    // the limit in bytes, the init's lines (7 bytes) counted against the run's
    expect(h.sent.map((s) => s.logLimit)).to.deep.equal([2 * 1024 * 1024, 2 * 1024 * 1024 - 7]);

    const cut = harness((path) => (path === '/init' ? withLogs({ ok: true }, []) : withLogs({}, [`${t(1)} stdout: a`], true)), { inlineLogs: true });
    const cutRec = await cut.runner.run(testJob(testAction('function main() {}')));
    expect(cutRec.logs.at(-1)).to.match(/ stderr: Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes\.$/);
  });

  it('reads the streams when a runtime answers without its logs (an image built before it could), waiting for the end markers', async () => {
    const h = harness((path) => ok(path === '/init' ? { ok: true } : {}), { inlineLogs: true, lines: ['2026-01-01T00:00:00.000Z stdout: on the stream'] });
    const rec = await h.runner.run(testJob(testAction('function main() {}')));
    expect(rec.logs[0]).to.equal('2026-01-01T00:00:00.000Z stdout: on the stream');
    expect(h.waits).to.deep.equal([2_000]);
    // an image of the user's is not asked for them
    const user = harness((path) => ok(path === '/init' ? { ok: true } : {}));
    await user.runner.run(testJob(testAction('', { kind: 'blackbox', image: 'me/tool:1' })));
    expect(user.sent.map((s) => s.logLimit)).to.deep.equal([undefined, undefined]);
  });
});
