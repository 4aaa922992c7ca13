import { expect } from 'chai';
import type { Reply } from './server.ts';
import { expectConforms } from './openapi.ts';

/** The body of a reply that must be a 200 (the body is in the message when it is not). */
export async function expectOk<T = any>(reply: Promise<Reply<T>>): Promise<T> {
  const r = await reply;
  expect(r.status, JSON.stringify(r.body)).to.equal(200);
  return r.body;
}

/** A transaction id the server generated: 32 hex characters. */
export const GENERATED_TID = /^[0-9a-f]{32}$/;

/**
 * Assert an OpenWhisk error reply: the status, a JSON body `{error, code}` that conforms to
 * the OpenAPI ErrorMessage, `code` equal to the `X-Request-ID` header, and optionally a
 * message matching `message`.
 */
export function expectError(r: Reply, status: number, message?: RegExp | string): void {
  const shown = typeof r.body === 'string' ? r.body.slice(0, 300) : JSON.stringify(r.body).slice(0, 300);
  expect(r.status, `status (body: ${shown})`).to.equal(status);
  expect(r.headers.get('content-type') ?? '', 'content-type').to.match(/application\/json/);
  expectConforms('ErrorMessage', r.body);
  const body = r.body as { error: unknown; code: unknown };
  expect(body.error, 'error').to.be.a('string').and.not.equal('');
  expect(body.code, 'code').to.be.a('string').and.not.equal('');
  expect(r.headers.get('x-request-id'), 'X-Request-ID header equals code').to.equal(body.code);
  if (message instanceof RegExp) expect(body.error).to.match(message);
  else if (message !== undefined) expect(body.error).to.equal(message);
}

export const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

/** The same key with its last character changed to another: a wrong key, always (never the right one by chance). */
export const wrongKey = (key: string): string => `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`;
