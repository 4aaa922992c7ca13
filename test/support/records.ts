import type { ActivationRecord } from '../../common/activation.ts';
import { sleep } from './api.ts';
import { call } from './server.ts';

/**
 * GET an activation record, waiting (bounded: 5 s) until it is stored: blocking callers get
 * the result, and non-blocking ones the id, before the record is written.
 */
export async function storedRecord<T = any>(activationUrl: string, auth: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const r = await call<T>('GET', activationUrl, { auth });
    if (r.status === 200) return r.body;
    if (Date.now() > deadline) throw new Error(`no record at ${activationUrl} after 5 s (last status ${r.status})`);
    await sleep(25);
  }
}

/** A successful activation record of guest/hello, as an invoker would store it. */
export const testRecord = (over: Partial<ActivationRecord> = {}): ActivationRecord => ({
  activationId: 'a'.repeat(32),
  namespace: 'guest',
  name: 'hello',
  subject: 'guest',
  version: '0.0.1',
  publish: false,
  start: 1,
  end: 2,
  duration: 1,
  annotations: [],
  logs: [],
  response: { status: 'success', statusCode: 0, success: true, result: { ok: true } },
  ...over,
});
