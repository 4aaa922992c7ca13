import { randomUUID } from 'node:crypto';

/**
 * Transaction ids: one per request, threaded through every log line the request causes
 * and returned to the caller in `X-Request-ID` and in error bodies (`code`).
 */
const ACCEPTABLE = /^[A-Za-z0-9._:-]{8,64}$/;

export function newTransactionId(): string {
  return randomUUID().replace(/-/g, '');
}

/** Keep a caller-supplied request id when it is safe to echo and log; otherwise make one. */
export function transactionIdFrom(header: string | undefined): string {
  return header !== undefined && ACCEPTABLE.test(header) ? header : newTransactionId();
}
