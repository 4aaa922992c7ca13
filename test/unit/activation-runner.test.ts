import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import { type Container, ImageUnavailableError, type LogSegment } from '../../common/container.ts';
import { createLogger, type Logger, silentLogger, withLogContext } from '../../common/logger.ts';
import { logSink } from '../support/log-sink.ts';
import { ActivationRunner } from '../../invoker/activation-runner.ts';
import type { ContainerEnd, ContainerPool, Lease, PlacementRequest } from '../../invoker/pool.ts';
import { type ProxyClient, ProxyRequestError, type ProxyResponse } from '../../invoker/proxy-client.ts';
import { RunMessages } from '../../invoker/response.ts';
import { testAction, testJob } from '../support/invoker-fixtures.ts';

/**
 * What the runner asked of the pool and the container: a fresh container per acquire (a warm
 * one with `warm`, or `noContainer`'s error), answers from `answer` (which may throw as the client does).
 */
function harness(answer: (path: string) => ProxyResponse, streams: { inlineLogs?: boolean; lines?: string[]; truncated?: boolean; noContainer?: Error; warm?: boolean; log?: Logger; callBack?: (answer: () => void) => void } = {}) {
  const sent: Array<{ path: string; body: Record<string, any>; logLimit?: number }> = [];
  /** How long each take of the streams' output was allowed to wait. */
  const waits: number[] = [];
  const placed: PlacementRequest[] = [];
  const ends: ContainerEnd[] = [];
  /** What the runner told the pool of each init. */
  const inits: boolean[] = [];
  const stored: ActivationRecord[] = [];
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
      return { lines: streams.lines ?? [], truncated: streams.truncated ?? false, complete: !streams.inlineLogs };
    },
  });
  const pool = {
    acquireAtOnce: async (req: PlacementRequest) => {
      placed.push(req);
      if (streams.noContainer) throw streams.noContainer;
      return { container: container(req.kind), start: streams.warm ? 'warm' : 'cold', needsInit: !streams.warm, shared: false, running: true } as unknown as Lease;
    },
    initialized: (_lease: Lease, ok: boolean) => void inits.push(ok),
    release: (_lease: Lease, end: ContainerEnd = 'keep') => void ends.push(end),
  } as unknown as ContainerPool;
  const callBack = streams.callBack ?? ((f: () => void) => void setImmediate(f));
  const client = {
    send: (_address: string, path: string, body: Record<string, any>, _timeout: number, _abort: unknown, _token: unknown, logLimit: number | undefined, done: (err: ProxyRequestError | undefined, res?: ProxyResponse) => void) => {
      sent.push({ path, body, ...(logLimit !== undefined ? { logLimit } : {}) });
      let res: ProxyResponse;
      try {
        res = answer(path);
      } catch (e) {
        return callBack(() => done(e as ProxyRequestError));
      }
      callBack(() => done(undefined, res));
    },
  } as unknown as ProxyClient;
  const runner = new ActivationRunner({ pool, client, store: async (r) => void stored.push(r), imageOf: (k) => `runtime-${k}`, log: streams.log ?? silentLogger, apiHost: 'http://api:3233' });
  return { runner, sent, placed, ends, waits, inits, stored };
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

describe('activation runner: every outcome, its record and what becomes of the container', () => {
  const timedOut = () => {
    throw new ProxyRequestError('deadline passed', true);
  };
  const crashed = () => {
    throw new ProxyRequestError('socket hang up', false);
  };
  const initOk = (run: () => ProxyResponse) => (path: string) => (path === '/init' ? ok({ ok: true }) : run());
  const annotationOf = (rec: ActivationRecord, key: string) => rec.annotations.find((a) => a.key === key)?.value;
  const action = () => testAction('function main() {}', { limits: { timeout: 1_000 } });

  /** One activation through the harness: its record, the container's end, the init reported to the pool, the /run sent. */
  async function outcome(answer: (path: string) => ProxyResponse, streams: Parameters<typeof harness>[1] = {}) {
    const h = harness(answer, streams);
    let early: ActivationRecord | undefined;
    const rec = await h.runner.run(testJob(action()), (r) => (early = r));
    expect(early, 'the response is given before the record is stored').to.equal(rec);
    expect(h.stored, 'one record stored').to.deep.equal([rec]);
    return { rec, ends: h.ends, inits: h.inits, ran: h.sent.some((s) => s.path === '/run'), waits: h.waits };
  }

  const cases: Array<{ name: string; answer: (path: string) => ProxyResponse; status: string; error?: string; end: ContainerEnd; timeout?: boolean; init: boolean; ran: boolean }> = [
    { name: 'success', answer: initOk(() => ok({ sum: 3 })), status: 'success', end: 'keep', init: true, ran: true },
    { name: "the action's own {error}", answer: initOk(() => ok({ error: 'no such user' })), status: 'application error', error: 'no such user', end: 'keep', init: true, ran: true },
    { name: 'an exception in the action', answer: initOk(() => ok({ error: 'An error has occurred: boom' }, 502)), status: 'action developer error', error: 'An error has occurred: boom', end: 'retire', init: true, ran: true },
    { name: 'a result that is not a dictionary', answer: initOk(() => ok('text')), status: 'action developer error', error: RunMessages.notADictionary, end: 'retire', init: true, ran: true },
    { name: 'an answer that is not JSON', answer: initOk(() => ({ status: 200, body: 'oops', truncated: false, size: 4 })), status: 'action developer error', error: RunMessages.invalidJson('oops'), end: 'retire', init: true, ran: true },
    { name: 'a result over the size limit', answer: initOk(() => ({ status: 200, body: '{"a":', truncated: true, size: 2_000_000 })), status: 'action developer error', error: RunMessages.tooLarge(2_000_000, 1024 * 1024), end: 'retire', init: true, ran: true },
    { name: 'a /run past the time limit', answer: initOk(timedOut), status: 'action developer error', error: RunMessages.timedOut(1_000), end: 'destroy', timeout: true, init: true, ran: true },
    { name: 'a container that died during /run', answer: initOk(crashed), status: 'action developer error', error: RunMessages.abnormalRun, end: 'destroy', init: true, ran: true },
    { name: "an init that failed with the runtime's message", answer: (p) => (p === '/init' ? ok({ error: 'SyntaxError: Unexpected token' }, 502) : ok({})), status: 'action developer error', error: 'SyntaxError: Unexpected token', end: 'destroy', init: false, ran: false },
    { name: 'an image that does not serve /init', answer: (p) => (p === '/init' ? { status: 404, body: 'Not Found', truncated: false, size: 9 } : ok({})), status: 'action developer error', error: RunMessages.invalidJson('Not Found'), end: 'destroy', init: false, ran: false },
    { name: 'an init past the time limit', answer: timedOut, status: 'action developer error', error: RunMessages.timedOut(1_000, true), end: 'destroy', timeout: true, init: false, ran: false },
    { name: 'a container that died during /init', answer: crashed, status: 'action developer error', error: RunMessages.abnormalInit, end: 'destroy', init: false, ran: false },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.status}, the container ${c.end === 'keep' ? 'kept' : c.end === 'retire' ? 'retired' : 'destroyed'}`, async () => {
      const { rec, ends, inits, ran } = await outcome(c.answer);
      expect(rec.response.status).to.equal(c.status);
      expect(rec.response.success).to.equal(c.status === 'success');
      if (c.error !== undefined) expect(rec.response.result).to.deep.equal({ error: c.error });
      expect(ends, 'released once, with this end').to.deep.equal([c.end]);
      expect(inits, 'the init reported to the pool').to.deep.equal([c.init]);
      expect(ran, '/run sent').to.equal(c.ran);
      expect(annotationOf(rec, 'timeout')).to.equal(c.timeout ? true : undefined);
      expect(annotationOf(rec, 'initTime')).to.be.a('number');
    });
  }

  it('a dead container is not waited on for its end markers; a live one is', async () => {
    expect((await outcome(initOk(crashed))).waits).to.deep.equal([50]);
    expect((await outcome(initOk(() => ok({})))).waits).to.deep.equal([2_000]);
  });

  it('no container at all: a whisk internal error, nothing to release; an image that cannot be pulled is the developer’s error', async () => {
    const none = await outcome(initOk(() => ok({})), { noContainer: new Error('docker: no space left') });
    expect(none.rec.response).to.deep.equal({ status: 'whisk internal error', statusCode: 3, success: false, result: { error: 'Failed to provision a container for the action.' } });
    expect(none.ends).to.deep.equal([]);
    expect(none.ran).to.equal(false);

    const h = harness(initOk(() => ok({})), { noContainer: new ImageUnavailableError('me/tool:9') });
    const rec = await h.runner.run(testJob(testAction('', { kind: 'blackbox', image: 'me/tool:9' })));
    expect(rec.response).to.deep.include({ status: 'action developer error', statusCode: 2 });
    expect(rec.response.result).to.deep.equal({ error: "Failed to pull container image 'me/tool:9'." });
    expect(h.ends).to.deep.equal([]);
  });

  it('logs cut at the limit end with the truncation line; the container is kept', async () => {
    const { rec, ends } = await outcome(initOk(() => ok({})), { lines: ['2026-01-01T00:00:00.000Z stdout: a'], truncated: true });
    expect(rec.logs).to.have.length(2);
    expect(rec.logs[0]).to.equal('2026-01-01T00:00:00.000Z stdout: a');
    expect(rec.logs[1]).to.match(/ stderr: Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes\.$/);
    expect(ends).to.deep.equal(['keep']);
  });

  it('a warm container is not initialized again', async () => {
    const h = harness(() => ok({ again: true }), { warm: true });
    const rec = await h.runner.run(testJob(action()));
    expect(h.sent.map((s) => s.path)).to.deep.equal(['/run']);
    expect(h.inits).to.deep.equal([]);
    expect(annotationOf(rec, 'initTime')).to.equal(undefined);
    expect(rec.response.result).to.deep.equal({ again: true });
  });
});

describe('activation runner: log context', () => {
  it("logs a failed POST in the activation's log context, whatever context the proxy client calls back in", async () => {
    const out = logSink();
    // the client answers from outside the activation (as a reused keep-alive connection's callbacks do)
    const answers: Array<() => void> = [];
    const h = harness(
      () => {
        throw new ProxyRequestError('/run failed: socket hang up', false);
      },
      { warm: true, log: createLogger('info', 'invoker', out.stream), callBack: (f) => void answers.push(f) },
    );
    const running = withLogContext({ activationId: 'a1' }, () => h.runner.run(testJob(testAction('function main() {}'))));
    while (!answers.length) await new Promise((r) => setImmediate(r));
    answers.shift()!();
    await running;
    const failed = out.lines().find((l) => l.msg === '/run failed');
    expect(failed).to.include({ activationId: 'a1' });
  });
});
