import { CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient, ListFunctionsCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { strToU8, zipSync } from 'fflate';
import { expectOk, sleep } from '../support/api.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const run = promisify(execFile);
// (the SDK warns once that its releases from 2027 on need Node 22; the locked one runs on 20)
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const REGION = 'eu-west-1';
/** An activation record once stored (records are written after the answer, in batches). */
const stored = async (url: string, auth: string) => {
  for (let i = 0; ; i++) {
    const r = await call('GET', url, { auth });
    if (r.status === 200 || i === 100) return expectOk(Promise.resolve(r));
    await sleep(50);
  }
};
const zip = (files: Record<string, string>): Uint8Array => zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)])));
const decode = (payload: Uint8Array | undefined): unknown => JSON.parse(Buffer.from(payload ?? []).toString('utf8'));

/** A handler that answers what it was given and what its context says. */
const NODE_ASYNC = `exports.handler = async (event, context) => {
  console.log('hello from ' + context.functionName);
  return { event, env: process.env.GREETING, region: process.env.AWS_REGION, fn: process.env.AWS_LAMBDA_FUNCTION_NAME, context: { functionName: context.functionName, functionVersion: context.functionVersion, awsRequestId: context.awsRequestId,
    invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB, remaining: context.getRemainingTimeInMillis(),
    logGroupName: context.logGroupName, logStreamName: context.logStreamName } };
};`;
const NODE_CALLBACK = `exports.handler = (event, context, callback) => {
  if (event.fail) return setTimeout(() => callback(new TypeError('no sum for ' + event.fail)), 5);
  setTimeout(() => callback(null, { sum: event.a + event.b, requestId: context.awsRequestId }), 5);
};`;
const NODE_THROWS = `export const handler = async () => { throw new RangeError('out of range'); };`;
const PYTHON = `import os

def lambda_handler(event, context):
    print("python got", event)
    return {"doubled": [x * 2 for x in event], "name": context.function_name, "requestId": context.aws_request_id,
            "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(), "group": context.log_group_name, "env": os.environ.get("MODE"),
            "region": os.environ.get("AWS_REGION")}
`;

/**
 * The AWS Lambda-compatible endpoint through the official AWS SDK for JavaScript v3 and curl's
 * SigV4 signing, on a controller and invoker in this process (process containers: swirl's
 * runtimes as local processes, real activations).
 */
describe('AWS Lambda-compatible endpoint', function () {
  this.timeout(60_000);
  let s: TestStack;
  let alice: string;
  let creds: { accessKeyId: string; secretAccessKey: string };
  let lambda: LambdaClient;
  const client = (c: { accessKeyId: string; secretAccessKey: string }) => new LambdaClient({ endpoint: s.url, region: REGION, credentials: c, maxAttempts: 1 });
  const create = (name: string, files: Record<string, string>, over: Record<string, unknown> = {}) =>
    lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::123:role/x', Code: { ZipFile: zip(files) }, ...over }));
  const refusal = async (p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> => {
    try {
      await p;
    } catch (e) {
      const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
      return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
    }
    throw new Error('expected a refusal');
  };

  before(async () => {
    s = await startTestStack('process');
    alice = await s.createUser('alice');
    creds = await expectOk(call('GET', `${s.api}/lambda/credentials`, { auth: alice }));
    lambda = client(creds);
  });
  after(() => s?.destroy());

  it('gives the Lambda credentials to a caller with its key: the uuid and a secret that is not the key', async () => {
    expect(creds.accessKeyId).to.equal(alice.split(':')[0]);
    expect(creds.secretAccessKey).to.match(/^[0-9a-f]{64}$/).and.not.equal(alice.split(':')[1]);
    const token = await expectOk(call('POST', `${s.api}/token`, { auth: alice, body: {} }));
    expect((await call('GET', `${s.api}/lambda/credentials`, { auth: `Bearer ${token.token}` })).status).to.equal(403);
  });

  it('creates a Node.js function from a zip and runs its async handler with Lambda\'s event, context and environment', async () => {
    const created = await create('greeter', { 'index.js': NODE_ASYNC }, { Timeout: 5, MemorySize: 256, Environment: { Variables: { GREETING: 'hej' } }, Description: 'says hello' });
    expect(created).to.include({ FunctionName: 'greeter', Runtime: 'nodejs20.x', Handler: 'index.handler', Timeout: 5, MemorySize: 256, Description: 'says hello', Version: '$LATEST', State: 'Active' });
    expect(created.FunctionArn).to.equal(`arn:aws:lambda:${REGION}:alice:function:greeter`);
    expect(created.Environment?.Variables).to.deep.equal({ GREETING: 'hej' });

    const out = await lambda.send(new InvokeCommand({ FunctionName: 'greeter', Payload: JSON.stringify({ n: 1 }), LogType: 'Tail' }));
    expect(out.StatusCode).to.equal(200);
    expect(out.FunctionError).to.equal(undefined);
    expect(out.ExecutedVersion).to.equal('$LATEST');
    const answer = decode(out.Payload) as { event: unknown; env: string; region: string; fn: string; context: Record<string, unknown> };
    expect(answer.event).to.deep.equal({ n: 1 });
    expect(answer).to.include({ env: 'hej', region: REGION, fn: 'greeter' });
    const ctx = answer.context;
    expect(ctx).to.include({ functionName: 'greeter', functionVersion: '$LATEST', invokedFunctionArn: created.FunctionArn, memoryLimitInMB: '256', logGroupName: '/aws/lambda/greeter' });
    expect(ctx.remaining).to.be.within(1, 5000);
    expect(ctx.awsRequestId).to.match(/^[0-9a-f]{32}$/);
    expect(ctx.logStreamName).to.match(new RegExp(`^\\d{4}/\\d\\d/\\d\\d/\\[\\$LATEST\\]${ctx.awsRequestId as string}$`));
    // the request id is the activation's: its record is there, with the log line the tail shows
    const record = await stored(`${s.api}/namespaces/_/activations/${ctx.awsRequestId as string}`, alice);
    expect(record.name).to.equal('greeter');
    const tail = Buffer.from(out.LogResult!, 'base64').toString('utf8');
    expect(tail).to.contain(`START RequestId: ${ctx.awsRequestId as string}`).and.contain('hello from greeter').and.contain(`END RequestId: ${ctx.awsRequestId as string}`);
  });

  it('runs a callback-style handler, and reports what it passes to the callback as an Unhandled error', async () => {
    await create('adder', { 'index.js': NODE_CALLBACK, 'package.json': '{"name":"adder","main":"index.js"}' });
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'adder', Payload: JSON.stringify({ a: 2, b: 3 }) }));
    expect(decode(ok.Payload)).to.include({ sum: 5 });
    const failed = await lambda.send(new InvokeCommand({ FunctionName: 'adder', Payload: JSON.stringify({ fail: 'x' }) }));
    expect(failed.StatusCode).to.equal(200);
    expect(failed.FunctionError).to.equal('Unhandled');
    expect(decode(failed.Payload)).to.include({ errorType: 'TypeError', errorMessage: 'no sum for x' });
  });

  it('reports a thrown error (ES module handler) as Unhandled, with the stack in the log tail', async () => {
    await create('thrower', { 'index.mjs': NODE_THROWS });
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'thrower', LogType: 'Tail' }));
    expect(out.FunctionError).to.equal('Unhandled');
    const payload = decode(out.Payload) as { errorType: string; errorMessage: string; trace: string[] };
    expect(payload).to.include({ errorType: 'RangeError', errorMessage: 'out of range' });
    expect(payload.trace[0]).to.contain('RangeError: out of range');
    expect(Buffer.from(out.LogResult!, 'base64').toString()).to.contain('RangeError: out of range');
  });

  it('a handler past its Timeout or one that cannot load is an Unhandled error', async () => {
    await create('sleeper', { 'index.js': 'exports.handler = (e) => new Promise((ok) => setTimeout(ok, 3000))' }, { Timeout: 1 });
    const slow = await lambda.send(new InvokeCommand({ FunctionName: 'sleeper' }));
    expect(slow.FunctionError).to.equal('Unhandled');
    expect(decode(slow.Payload)).to.include({ errorType: 'Sandbox.Timedout' });
    await create('misnamed', { 'index.js': 'exports.handler = async () => 1' }, { Handler: 'main.handler' });
    const missing = await lambda.send(new InvokeCommand({ FunctionName: 'misnamed' }));
    expect(missing.FunctionError).to.equal('Unhandled');
    expect(decode(missing.Payload)).to.include({ errorType: 'Runtime.ImportModuleError' });
    for (const name of ['sleeper', 'misnamed']) await lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
  });

  it('runs a Python lambda_function.lambda_handler with any JSON event and its context', async () => {
    const created = await create('doubler', { 'lambda_function.py': PYTHON }, { Runtime: 'python3.12', Handler: 'lambda_function.lambda_handler', MemorySize: 128, Environment: { Variables: { MODE: 'py' } } });
    expect(created.Runtime).to.equal('python3.12');
    const out = await lambda.send(new InvokeCommand({ FunctionName: created.FunctionArn, Payload: JSON.stringify([1, 2, 3]), LogType: 'Tail' }));
    expect(out.FunctionError).to.equal(undefined);
    const answer = decode(out.Payload) as Record<string, unknown>;
    expect(answer).to.deep.include({ doubled: [2, 4, 6], name: 'doubler', arn: created.FunctionArn, memory: '128', group: '/aws/lambda/doubler', env: 'py', region: REGION });
    expect(answer.requestId).to.match(/^[0-9a-f]{32}$/);
    expect(answer.remaining).to.be.within(1, 3000);
    expect(Buffer.from(out.LogResult!, 'base64').toString()).to.contain('python got [1, 2, 3]');
  });

  it('invokes any action of the namespace: an action that answers {error} is a Handled error', async () => {
    await expectOk(call('PUT', `${s.api}/namespaces/_/actions/plain`, { auth: alice, body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return p.bad ? { error: "bad input" } : { got: p.x } }' } } }));
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'plain', Payload: JSON.stringify({ x: 7 }) }));
    expect(decode(ok.Payload)).to.deep.equal({ got: 7 });
    const handled = await lambda.send(new InvokeCommand({ FunctionName: 'plain', Payload: JSON.stringify({ bad: true }) }));
    expect(handled.FunctionError).to.equal('Handled');
    expect(decode(handled.Payload)).to.deep.equal({ error: 'bad input' });
    // (an action takes parameters: an object)
    expect((await refusal(lambda.send(new InvokeCommand({ FunctionName: 'plain', Payload: '[1]' })))).name).to.equal('InvalidRequestContentException');
  });

  it('Event is accepted (202) and runs; DryRun (204) runs nothing', async () => {
    const before = await expectOk(call('GET', `${s.api}/namespaces/_/activations?name=adder&limit=200`, { auth: alice }));
    const dry = await lambda.send(new InvokeCommand({ FunctionName: 'adder', InvocationType: 'DryRun', Payload: JSON.stringify({ a: 1, b: 1 }) }));
    expect(dry.StatusCode).to.equal(204);
    const event = await lambda.send(new InvokeCommand({ FunctionName: 'adder', InvocationType: 'Event', Payload: JSON.stringify({ a: 40, b: 2 }) }));
    expect(event.StatusCode).to.equal(202);
    expect(event.Payload?.length ?? 0).to.equal(0);
    let after: { activationId: string }[] = [];
    for (let i = 0; i < 100 && after.length <= before.length; i++) {
      await sleep(100);
      after = await expectOk(call('GET', `${s.api}/namespaces/_/activations?name=adder&limit=200`, { auth: alice }));
    }
    expect(after.length).to.equal(before.length + 1);
    const record = await expectOk(call('GET', `${s.api}/namespaces/_/activations/${after[0]!.activationId}/result`, { auth: alice }));
    expect(record.result.payload).to.include({ sum: 42 });
  });

  it('updates the code, lists the functions (not other actions), gets and deletes one', async () => {
    const old = await lambda.send(new GetFunctionCommand({ FunctionName: 'greeter' }));
    const updated = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'greeter', ZipFile: zip({ 'index.js': 'exports.handler = async (e) => ({ version: 2, e })' }) }));
    expect(updated.CodeSha256).to.not.equal(old.Configuration!.CodeSha256);
    expect(updated).to.include({ Timeout: 5, MemorySize: 256 });
    expect(updated.Environment?.Variables).to.deep.equal({ GREETING: 'hej' });
    expect(decode((await lambda.send(new InvokeCommand({ FunctionName: 'greeter', Payload: '"x"' }))).Payload)).to.deep.equal({ version: 2, e: 'x' });

    const names = (await lambda.send(new ListFunctionsCommand({}))).Functions!.map((f) => f.FunctionName).sort();
    expect(names).to.deep.equal(['adder', 'doubler', 'greeter', 'thrower']);
    const page = await lambda.send(new ListFunctionsCommand({ MaxItems: 3 }));
    expect(page.Functions).to.have.length(3);
    const rest = await lambda.send(new ListFunctionsCommand({ MaxItems: 3, Marker: page.NextMarker }));
    expect([...page.Functions!, ...rest.Functions!].map((f) => f.FunctionName).sort()).to.deep.equal(names);

    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'thrower' }));
    const gone = await refusal(lambda.send(new GetFunctionCommand({ FunctionName: 'thrower' })));
    expect(gone).to.include({ name: 'ResourceNotFoundException', status: 404 });
    expect(gone.message).to.contain(`function:thrower`);
    expect((await refusal(lambda.send(new InvokeCommand({ FunctionName: 'thrower' })))).name).to.equal('ResourceNotFoundException');
    expect((await refusal(lambda.send(new DeleteFunctionCommand({ FunctionName: 'thrower' })))).status).to.equal(404);
  });

  it('refuses a name taken (409) and what it cannot run (400), in Lambda\'s error shape', async () => {
    expect(await refusal(create('adder', { 'index.js': NODE_CALLBACK }))).to.include({ name: 'ResourceConflictException', status: 409 });
    expect(await refusal(create('rusty', { 'index.js': NODE_CALLBACK }, { Runtime: 'provided.al2' }))).to.include({ name: 'InvalidParameterValueException', status: 400 });
    expect(await refusal(create('slow', { 'index.js': NODE_CALLBACK }, { Timeout: 900 }))).to.include({ name: 'InvalidParameterValueException', status: 400 });
    const notZip = await refusal(lambda.send(new CreateFunctionCommand({ FunctionName: 'nozip', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'r', Code: { ZipFile: strToU8('not a zip') } })));
    expect(notZip).to.include({ name: 'InvalidParameterValueException', status: 400 });
    const big = await refusal(lambda.send(new InvokeCommand({ FunctionName: 'adder', Payload: JSON.stringify({ a: 'x'.repeat(1024 * 1024), b: 1 }) })));
    expect(big).to.include({ name: 'RequestTooLargeException', status: 413 });
    const raw = await call('GET', `${s.url}/2015-03-31/functions/`, {});
    expect(raw.status).to.equal(403);
    expect(raw.headers.get('x-amzn-errortype')).to.equal('MissingAuthenticationTokenException');
    expect(raw.body).to.deep.equal({ Type: 'User', message: 'Missing Authentication Token' });
  });

  it("is held to the namespace's throttles as any invoke: TooManyRequestsException", async () => {
    const bob = await s.createUser('bob');
    const subject = (await s.opened.store.getSubject('bob'))!;
    const { _rev, ...body } = subject;
    await s.opened.store.putSubject({ ...body, namespaces: [{ ...subject.namespaces[0]!, limits: { invocationsPerMinute: 2 } }] }, _rev);
    const bobs = client(await expectOk(call('GET', `${s.api}/lambda/credentials`, { auth: bob })));
    await bobs.send(new CreateFunctionCommand({ FunctionName: 'echo', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'r', Code: { ZipFile: zip({ 'index.js': 'exports.handler = async (e) => e' }) } }));
    for (const n of [1, 2]) expect(decode((await bobs.send(new InvokeCommand({ FunctionName: 'echo', Payload: String(n) }))).Payload)).to.equal(n);
    const third = await refusal(bobs.send(new InvokeCommand({ FunctionName: 'echo', Payload: '3' })));
    expect(third).to.include({ name: 'TooManyRequestsException', status: 429 });
    expect(third.message).to.contain('allowed: 2');
    // another namespace's function is not found, nor invoked, with bob's signature
    expect((await refusal(bobs.send(new InvokeCommand({ FunctionName: 'adder', InvocationType: 'DryRun' })))).name).to.equal('ResourceNotFoundException');
  });

  describe('SigV4', () => {
    const invokeUrl = () => `${s.url}/2015-03-31/functions/signed-adder/invocations`;
    before(() => create('signed-adder', { 'index.js': NODE_CALLBACK }));
    const curl = async (user: string, body: string) => {
      const { stdout } = await run('curl', ['-s', '-i', '--aws-sigv4', `aws:amz:${REGION}:lambda`, '--user', user, '-H', 'content-type: application/json', '--data-binary', body, invokeUrl()]);
      const [head, text] = stdout.split('\r\n\r\n', 2) as [string, string];
      return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)![1]), type: /x-amzn-errortype: (\S+)/i.exec(head)?.[1], body: JSON.parse(text) as Record<string, unknown> };
    };
    /** A request signed with the SDK's signer for `signed`, sent with `sent` as its body. */
    const signedFetch = async (opts: { signed: string; sent?: string; date?: Date; secret?: string; bodyHashHeader?: boolean }) => {
      const url = new URL(invokeUrl());
      const signer = new SignatureV4({ credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: opts.secret ?? creds.secretAccessKey }, region: REGION, service: 'lambda', sha256: Hash.bind(null, 'sha256'), applyChecksum: opts.bodyHashHeader ?? true });
      const req = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {}, headers: { host: url.host, 'content-type': 'application/json' }, body: opts.signed }, { signingDate: opts.date ?? new Date() });
      const res = await fetch(url, { method: 'POST', headers: req.headers as Record<string, string>, body: opts.sent ?? opts.signed });
      return { status: res.status, type: res.headers.get('x-amzn-errortype'), body: (await res.json()) as Record<string, unknown> };
    };

    it('curl --aws-sigv4 with the uuid and secret invokes; a wrong secret or unknown key id is refused', async () => {
      const ok = await curl(`${creds.accessKeyId}:${creds.secretAccessKey}`, '{"a":20,"b":22}');
      expect(ok.status).to.equal(200);
      expect(ok.body).to.include({ sum: 42 });
      // the namespace's key itself is not the signing secret
      const wrong = await curl(alice, '{"a":1,"b":1}');
      expect(wrong).to.include({ status: 403, type: 'InvalidSignatureException' });
      expect(wrong.body.Type).to.equal('User');
      expect(wrong.body.message).to.contain('signature we calculated does not match');
      const stranger = await curl(`00000000-0000-4000-8000-000000000000:${creds.secretAccessKey}`, '{}');
      expect(stranger).to.include({ status: 403, type: 'UnrecognizedClientException' });
    });

    it('the SDK with a wrong secret is refused', async () => {
      const err = await refusal(client({ ...creds, secretAccessKey: 'f'.repeat(64) }).send(new ListFunctionsCommand({})));
      expect(err).to.include({ name: 'InvalidSignatureException', status: 403 });
    });

    it('refuses a stale date and an altered body; the same request signed now and unaltered passes', async () => {
      expect((await signedFetch({ signed: '{"a":1,"b":2}' })).body).to.include({ sum: 3 });
      const stale = await signedFetch({ signed: '{"a":1,"b":2}', date: new Date(Date.now() - 16 * 60_000) });
      expect(stale).to.include({ status: 403, type: 'InvalidSignatureException' });
      expect(stale.body.message).to.match(/^Signature expired/);
      // with the body's hash in X-Amz-Content-Sha256 (as the SDK signs) and without (as curl does)
      for (const bodyHashHeader of [true, false]) {
        expect((await signedFetch({ signed: '{"a":1,"b":2}', bodyHashHeader })).status).to.equal(200);
        const altered = await signedFetch({ signed: '{"a":1,"b":2}', sent: '{"a":1000,"b":2}', bodyHashHeader });
        expect(altered).to.include({ status: 403, type: 'InvalidSignatureException' });
      }
    });
  });
});
