import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { expect } from 'chai';
import { strToU8, zipSync } from 'fflate';
import { swirlInProcess } from '../support/cli.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const NODE_LAMBDA = `exports.handler = async (event, context) => ({ hello: event.who, greeting: process.env.GREETING, fn: context.functionName, left: context.getRemainingTimeInMillis() > 0 });`;
const PYTHON_LAMBDA = `import os
def lambda_handler(event, context):
    return {"sum": event["a"] + event["b"], "stage": os.environ["STAGE"], "fn": context.function_name}
`;
const NODE20_HANDLER = `'use strict'
module.exports = async (event, context) => {
  return context.status(201).headers({ 'x-from': 'openfaas' }).succeed({ got: event.body, method: event.method, q: event.query.q, token: process.env.TOKEN })
}
`;
const PY_HTTP_HANDLER = `import json
import os
def handle(event, context):
    data = json.loads(event.body or b"{}")
    return {"statusCode": 202, "body": {"name": data.get("name"), "mode": os.environ.get("MODE"), "method": event.method}, "headers": {"x-py": "yes"}}
`;

/** `swirl convert`: Lambda zips and OpenFaaS folders become actions that answer through the API (process containers). */
describe('swirl convert (Lambda zips, OpenFaaS folders; process containers)', function () {
  this.timeout(90_000);
  let s: TestStack;
  let dir: string;
  const env = () => ({ __OW_API_HOST: s.url, __OW_API_KEY: s.guestKey });
  const auth = () => `Basic ${Buffer.from(s.guestKey).toString('base64')}`;
  const invoke = async (name: string, params: unknown) => {
    const res = await fetch(`${s.url}/api/v1/namespaces/_/actions/${name}?blocking=true&result=true`, { method: 'POST', headers: { authorization: auth(), 'content-type': 'application/json' }, body: JSON.stringify(params) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const file = (path: string, text: string) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  before(async function () {
    s = await startTestStack('process');
    dir = mkdtempSync(join(tmpdir(), 'swirl-convert-'));
    writeFileSync(join(dir, 'node.zip'), zipSync({ 'index.js': strToU8(NODE_LAMBDA) }));
    writeFileSync(join(dir, 'py.zip'), zipSync({ 'lambda_function.py': strToU8(PYTHON_LAMBDA) }));
    file('greet/handler.js', NODE20_HANDLER);
    file('greet/package.json', '{"name":"function","version":"1.0.0","main":"handler.js"}');
    file('greet.yml', 'version: 1.0\nprovider:\n  name: openfaas\n  gateway: http://127.0.0.1:8080\nfunctions:\n  greet:\n    lang: node20\n    handler: ./greet\n    image: greet:latest\n    environment:\n      TOKEN: t-1\n      write_timeout: 20s\n      exec_timeout: 15s\n    limits:\n      memory: 200Mi\n      cpu: 100m\n');
    file('pyhttp/handler.py', PY_HTTP_HANDLER);
    file('pyhttp/requirements.txt', '');
    file('docker/Dockerfile', 'FROM alpine\n');
    file('classic/handler.js', "'use strict'\nmodule.exports = (context, callback) => callback(undefined, { echoed: JSON.parse(context) })\n");
    file('pyclassic/handler.py', 'def handle(req):\n    return "Hello! You said: " + req\n');
  });
  after(async function () {
    await s?.destroy();
  });

  it('converts a Node.js Lambda zip: environment and limits mapped, the handler answers through the API', async function () {
    const run = await swirlInProcess(['convert', 'lambda', join(dir, 'node.zip'), 'lnode', '--handler', 'index.handler', '--runtime', 'nodejs20.x', '--env', 'GREETING=hi', '--timeout', '10', '--memory', '256', '--layer', 'arn:aws:lambda:us-east-1:1:layer:x:1'], env());
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.contain('ok: converted Lambda function node.zip (nodejs20.x, index.handler) to action lnode');
    expect(run.stdout).to.match(/mapped: environment GREETING/);
    expect(run.stdout).to.match(/mapped: timeout 10 s → timeout limit 10000 ms/);
    expect(run.stdout).to.match(/not converted: layer arn:aws:lambda:us-east-1:1:layer:x:1/);
    const out = await invoke('lnode', { who: 'ana' });
    expect(out.status).to.equal(200);
    expect(out.body).to.deep.equal({ payload: { hello: 'ana', greeting: 'hi', fn: 'lnode', left: true } });
  });

  it('the converted function is a Lambda function too: GetFunction shows it, Invoke runs it (AWS SDK)', async function () {
    const credentials = (await (await fetch(`${s.api}/lambda/credentials`, { headers: { authorization: auth() } })).json()) as { accessKeyId: string; secretAccessKey: string };
    const lambda = new LambdaClient({ endpoint: s.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'lnode' }));
    expect(got.Configuration).to.deep.include({ FunctionName: 'lnode', Runtime: 'nodejs20.x', Handler: 'index.handler', Timeout: 10, MemorySize: 256, Environment: { Variables: { GREETING: 'hi' } } });
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'lnode', Payload: Buffer.from('{"who":"bo"}') }));
    expect(JSON.parse(Buffer.from(out.Payload!).toString())).to.deep.equal({ hello: 'bo', greeting: 'hi', fn: 'lnode', left: true });
  });

  it('converts a Python Lambda zip', async function () {
    const run = await swirlInProcess(['convert', 'lambda', join(dir, 'py.zip'), 'lpy', '--handler', 'lambda_function.lambda_handler', '--runtime', 'python3.12', '--env', 'STAGE=prod'], env());
    expect(run.code, run.stderr).to.equal(0);
    const out = await invoke('lpy', { a: 2, b: 3 });
    expect(out.body).to.deep.equal({ payload: { sum: 5, stage: 'prod', fn: 'lpy' } });
  });

  it('converts an OpenFaaS node20 function from its stack file: a web action answering as the template does', async function () {
    const run = await swirlInProcess(['convert', 'openfaas', join(dir, 'greet'), 'greet'], env());
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/mapped: stack file greet\.yml → function greet/);
    expect(run.stdout).to.match(/mapped: write_timeout 20s → timeout limit 20000 ms/);
    expect(run.stdout).to.match(/mapped: limits\.memory 200Mi → memory limit 200 MB/);
    expect(run.stdout).to.match(/not converted: cpu 100m/);
    const api = await invoke('greet', { x: 1 });
    expect(api.body).to.deep.equal({ statusCode: 201, headers: { 'content-type': 'application/json', 'x-from': 'openfaas' }, body: { got: { x: 1 }, method: 'POST', token: 't-1' } });
    const web = await fetch(`${s.url}/api/v1/web/guest/default/greet?q=find`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"y":2}' });
    expect(web.status).to.equal(201);
    expect(web.headers.get('x-from')).to.equal('openfaas');
    expect(await web.json()).to.deep.equal({ got: { y: 2 }, method: 'PUT', q: 'find', token: 't-1' });
  });

  it('converts an OpenFaaS python3-http function given --template', async function () {
    const run = await swirlInProcess(['convert', 'openfaas', join(dir, 'pyhttp'), 'pyhttp', '--template', 'python3-http'], env());
    expect(run.code, run.stderr).to.equal(0);
    const api = await invoke('pyhttp', { name: 'bo' });
    expect(api.body).to.deep.include({ statusCode: 202, body: { name: 'bo', mode: null, method: 'POST' } });
    const web = await fetch(`${s.url}/api/v1/web/guest/default/pyhttp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"cy"}' });
    expect(web.status).to.equal(202);
    expect(web.headers.get('x-py')).to.equal('yes');
    expect(await web.json()).to.deep.equal({ name: 'cy', mode: null, method: 'POST' });
  });

  it('converts the classic node and python3 templates (body in, string or JSON out)', async function () {
    for (const [folder, template] of [['classic', 'node'], ['pyclassic', 'python3']]) {
      const run = await swirlInProcess(['convert', 'openfaas', join(dir, folder!), folder!, '--template', template!], env());
      expect(run.code, run.stderr).to.equal(0);
    }
    expect((await invoke('classic', { n: 1 })).body).to.deep.include({ statusCode: 200, body: { echoed: { n: 1 } } });
    const web = await fetch(`${s.url}/api/v1/web/guest/default/pyclassic`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(await web.text()).to.equal('Hello! You said: hi');
  });

  it('--dry-run prints the plan and makes nothing', async function () {
    const run = await swirlInProcess(['convert', 'lambda', join(dir, 'py.zip'), 'planned', '--handler', 'lambda_function.lambda_handler', '--runtime', 'python3.11', '--dry-run'], env());
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/^ok: would convert Lambda function py\.zip \(python3\.11, lambda_function\.lambda_handler\) to action planned\n {2}mapped: runtime python3\.11 → kind python:3\n/);
    const res = await fetch(`${s.url}/api/v1/namespaces/_/actions/planned`, { headers: { authorization: auth() } });
    expect(res.status).to.equal(404);
  });

  it('refuses a dockerfile template and a missing handler, saying why, and creates nothing', async function () {
    const docker = await swirlInProcess(['convert', 'openfaas', join(dir, 'docker'), 'dock', '--template', 'dockerfile'], env());
    expect(docker.code).to.not.equal(0);
    expect(docker.stderr).to.match(/template 'dockerfile' cannot be converted/);
    const missing = await swirlInProcess(['convert', 'lambda', join(dir, 'node.zip'), 'nohandler', '--handler', 'app.handler', '--runtime', 'nodejs20.x'], env());
    expect(missing.code).to.not.equal(0);
    expect(missing.stderr).to.contain("The handler 'app.handler' needs app.js or app.mjs or app.cjs in the zip");
    for (const name of ['dock', 'nohandler']) {
      const res = await fetch(`${s.url}/api/v1/namespaces/_/actions/${name}`, { headers: { authorization: auth() } });
      expect(res.status).to.equal(404);
    }
  });
});
