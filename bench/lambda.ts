/**
 * The Lambda endpoint's overhead over a plain invoke: a controller and one invoker in this
 * process (process containers, warm), sequential blocking invokes of the same noop three
 * ways — OpenWhisk's `POST …/actions/{name}?blocking=true&result=true` with Basic auth, the
 * same action through `POST /2015-03-31/functions/{name}/invocations` signed with SigV4
 * (the signature's cost on both sides), and a Lambda function (a handler behind the entry point
 * the endpoint adds) through the same route. Client and server share this process's CPU.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { strToU8, zipSync } from 'fflate';
import { startTestStack } from '../test/support/stack.ts';
import { http } from './invoke.ts';
import { sampled, now } from './table.ts';

const N = 500;
const WARMUP = 20;

export async function benchLambda(): Promise<void> {
  const s = await startTestStack('process', { SWIRL_LIMIT_INVOKES_PER_MINUTE: '1000000' });
  try {
    const auth = s.guestKey;
    const secret = JSON.parse((await http('GET', `${s.api}/lambda/credentials`, undefined, auth)).text) as { accessKeyId: string; secretAccessKey: string };
    const signer = new SignatureV4({ credentials: secret, region: 'us-east-1', service: 'lambda', sha256: Hash.bind(null, 'sha256') });
    const url = new URL(s.url);
    await http('PUT', `${s.api}/namespaces/_/actions/noop`, JSON.stringify({ exec: { kind: 'nodejs:20', code: 'function main(p) { return { n: p.n } }' } }), auth);
    const lambda = async (name: string, body: string) => {
      const req = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `/2015-03-31/functions/${name}/invocations`, query: {}, headers: { host: url.host }, body });
      const res = await fetch(`${s.url}${req.path}`, { method: 'POST', headers: req.headers as Record<string, string>, body });
      if (res.status !== 200) throw new Error(`lambda invoke ${name}: ${res.status} ${await res.text()}`);
      return res.text();
    };
    const zip = Buffer.from(zipSync({ 'index.js': strToU8('exports.handler = async (event) => ({ n: event.n })') })).toString('base64');
    const create = JSON.stringify({ FunctionName: 'noopfn', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'r', Code: { ZipFile: zip } });
    const created = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/2015-03-31/functions', query: {}, headers: { host: url.host }, body: create });
    const res = await fetch(`${s.url}/2015-03-31/functions`, { method: 'POST', headers: created.headers as Record<string, string>, body: create });
    if (res.status !== 201) throw new Error(`CreateFunction: ${res.status} ${await res.text()}`);

    const ways: [string, (i: number) => Promise<unknown>][] = [
      ['invoke noop: OpenWhisk API, Basic auth', (i) => http('POST', `${s.api}/namespaces/_/actions/noop?blocking=true&result=true`, JSON.stringify({ n: i }), auth)],
      ['invoke noop: Lambda Invoke, SigV4', (i) => lambda('noop', JSON.stringify({ n: i }))],
      ['invoke Lambda function: Lambda Invoke, SigV4', (i) => lambda('noopfn', JSON.stringify({ n: i }))],
    ];
    for (let i = 0; i < WARMUP; i++) for (const [, fn] of ways) await fn(i);
    // interleaved, so that the process warming up or the machine's load weighs on all three alike
    const times: number[][] = ways.map(() => []);
    for (let i = 0; i < N; i++) {
      for (const [w, [, fn]] of ways.entries()) {
        const t = now();
        await fn(i);
        times[w]!.push(now() - t);
      }
    }
    ways.forEach(([what], w) => sampled(what, times[w]!));
    const signing: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = now();
      await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, path: '/2015-03-31/functions/noop/invocations', query: {}, headers: { host: url.host }, body: `{"n":${i}}` });
      signing.push(now() - t);
    }
    sampled('SigV4 signing alone (client side, @smithy/signature-v4)', signing);
  } finally {
    await s.destroy();
  }
}
