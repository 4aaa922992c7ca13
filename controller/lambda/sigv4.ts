import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash } from 'node:crypto';
import { sameSecret } from '../../common/credentials.ts';
import type { Identity } from '../../common/identity.ts';
import { invalidSignature, LambdaError } from './errors.ts';

/** How far a request's X-Amz-Date may be from the server's clock (AWS's window). */
export const MAX_SKEW_MS = 15 * 60_000;

/** The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. */
export interface SigV4Header {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** A request whose AWS Signature Version 4 checked out: who signed it, in which region, and its body. */
export interface SignedCall {
  identity: Identity;
  region: string;
  body: Buffer;
}

/** A request as it arrived: what its signature covers. */
export interface SignedRequest {
  method: string;
  host: string;
  /** The path as sent (still percent-encoded). */
  rawPath: string;
  /** The query string as sent, without `?`. */
  rawQuery: string;
  /** Header names in lower case. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const HEADER = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;\-_.]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

export const missingToken = () => new LambdaError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
export const unrecognizedClient = () => new LambdaError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');

/** The Authorization header's parts; MissingAuthenticationToken when there is no SigV4 header, IncompleteSignature when it is malformed. */
export function parseAuthorization(value: string | undefined): SigV4Header {
  if (!value || !/^AWS4-HMAC-SHA256\s/.test(value)) throw missingToken();
  const m = HEADER.exec(value.trim());
  if (!m) throw new LambdaError(403, 'IncompleteSignatureException', `Authorization header requires Credential, SignedHeaders and Signature parameters: '${value.slice(0, 200)}'`);
  return { accessKeyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]!, signedHeaders: m[5]!.split(';'), signature: m[6]! };
}

/** X-Amz-Date as a Date, or undefined when it is not `YYYYMMDDTHHMMSSZ`. */
function amzDate(value: string | undefined): Date | undefined {
  const m = value ? AMZ_DATE.exec(value) : null;
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(',') : v);

/**
 * Check a request's AWS Signature Version 4 with `secret`: the request is signed again,
 * as the client signed it (its date, region and signed headers), by the AWS SDK's own signer
 * (@smithy/signature-v4), and the signatures compared in constant time. The body counts by
 * its bytes: a declared X-Amz-Content-Sha256 that does not match them (or UNSIGNED-PAYLOAD)
 * is refused. Throws InvalidSignatureException (stale or wrong) otherwise; resolves when the
 * signature is the one `secret` makes.
 */
export async function verifySignature(req: SignedRequest, auth: SigV4Header, secret: string, now = Date.now()): Promise<void> {
  const xDate = one(req.headers['x-amz-date']);
  const signingDate = amzDate(xDate);
  if (!signingDate || !auth.signedHeaders.includes('x-amz-date')) throw invalidSignature('The request must carry a signed X-Amz-Date header (YYYYMMDDTHHMMSSZ).');
  if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS) {
    const stamp = (t: number) => new Date(t).toISOString().replace(/[-:]|\.\d{3}/g, '');
    const [earliest, latest] = [stamp(now - MAX_SKEW_MS), stamp(now + MAX_SKEW_MS)];
    throw invalidSignature(`Signature expired: ${xDate} is now earlier than ${earliest} (${stamp(now)} - 15 min.) or later than ${latest}.`);
  }
  if (!auth.signedHeaders.includes('host')) throw invalidSignature('The Host header must be signed.');
  const bodyHash = createHash('sha256').update(req.body).digest('hex');
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = one(req.headers[name]);
    if (value === undefined) throw invalidSignature(`The signed header '${name}' is missing from the request.`);
    headers[name] = value;
  }
  if (headers['x-amz-content-sha256'] !== undefined && headers['x-amz-content-sha256'] !== bodyHash) throw invalidSignature('The X-Amz-Content-Sha256 header does not match the request body.');
  const signer = new SignatureV4({ credentials: { accessKeyId: auth.accessKeyId, secretAccessKey: secret }, region: auth.region, service: auth.service, sha256: Hash.bind(null, 'sha256'), uriEscapePath: true, applyChecksum: false });
  const signed = await signer.sign(
    { method: req.method, protocol: 'https:', hostname: req.host, path: req.rawPath, query: queryOf(req.rawQuery), headers, body: req.body },
    { signingDate, signableHeaders: new Set(auth.signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  if (!sameSecret(expected, auth.signature)) {
    throw invalidSignature('The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
  }
}

/** A query name or value decoded; bad percent-encoding cannot have been signed (a 403, not a failure of the server's). */
function decodeQueryPart(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    throw invalidSignature('The query string is not valid percent-encoding.');
  }
}

/** The query as the signer wants it: decoded names and values (repeated names as lists). */
function queryOf(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const [k, v] = (eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)]).map(decodeQueryPart) as [string, string];
    const had = query[k];
    query[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
  }
  return query;
}
