import { expect } from 'chai';
import { strFromU8, strToU8, zipSync } from 'fflate';
import { ConvertError, durationMs, memoryMb, planLambda, planOpenFaas, stackFunction } from '../../cli/convert/plan.ts';

const files = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, strToU8(v)]));
const lambda = (f: Record<string, string>, o: Partial<Parameters<typeof planLambda>[1]> = {}) =>
  planLambda(files(f), { name: 'fn', handler: 'index.handler', runtime: 'nodejs20.x', environment: {}, namespace: 'guest', region: 'eu-west-1', zip: zipSync(files(f)), ...o });

const STACK = `version: 1.0
provider:
  name: openfaas
functions:
  other:
    lang: python3
    handler: ./other
  hello:
    lang: node20
    handler: ./hello-fn
    image: hello:latest
    environment:
      API_URL: https://example.com
      exec_timeout: 1m30s
      write_debug: true
    environment_file:
      - env.yml
    secrets:
      - api-key
    limits:
      memory: 1Gi
      cpu: 200m
    annotations:
      team: blue
      topic: orders
`;

describe('swirl convert: planning', function () {
  describe('Lambda zips', function () {
    it('adds the endpoint\'s entry point and maps runtime, environment, limits and ARN', function () {
      const plan = lambda({ 'index.js': 'exports.handler = async () => 1' }, { environment: { A: '1' }, timeout: 30, memory: 256 });
      expect(plan.kind).to.equal('nodejs:20');
      expect(JSON.parse(strFromU8(plan.files['package.json']!)).main).to.equal('__swirl_lambda__.cjs');
      expect(plan.limits).to.deep.equal({ timeout: 30_000, memory: 256 });
      const config = plan.parameters.find((p) => p.key === '__LAMBDA_CONFIG')!.value as Record<string, unknown>;
      expect(config).to.deep.include({ handler: 'index.handler', functionName: 'fn', environment: { A: '1' }, invokedFunctionArn: 'arn:aws:lambda:eu-west-1:guest:function:fn', memoryLimitInMB: 256 });
      expect(plan.mapped.join('\n')).to.match(/environment A → process environment/);
      expect(plan.notConverted).to.deep.equal([]);
    });

    it('says what it cannot keep: layers, limits beyond swirl\'s range, native modules', function () {
      const plan = lambda({ 'index.js': '', 'node_modules/x/x.node': '' }, { timeout: 900, memory: 2048, layers: ['arn:layer'] });
      expect(plan.limits).to.deep.equal({ timeout: 300_000, memory: 512 });
      expect(plan.notConverted.join('\n')).to.match(/timeout 900 s: outside swirl's timeout range/).and.match(/memory 2048 MB: outside/).and.match(/layer arn:layer/).and.match(/native modules/);
    });

    it('finds Python handlers in modules and packages', function () {
      expect(lambda({ 'app/main.py': '' }, { runtime: 'python3.12', handler: 'app.main.handle' }).files).to.have.property('__main__.py');
      expect(lambda({ 'svc/__init__.py': '' }, { runtime: 'python3.12', handler: 'svc.handle' }).kind).to.equal('python:3');
    });

    it('refuses a missing handler file, a malformed handler, a runtime not served and a custom runtime', function () {
      expect(() => lambda({ 'other.js': '' })).to.throw(ConvertError, "The handler 'index.handler' needs index.js or index.mjs or index.cjs in the zip");
      expect(() => lambda({ 'index.js': '' }, { handler: 'index' })).to.throw(ConvertError, /no 'file.function'/);
      expect(() => lambda({ 'index.js': '' }, { runtime: 'java21' })).to.throw(ConvertError, /runtime 'java21' cannot be converted.*not java21/);
      expect(() => lambda({ bootstrap: '', 'index.js': '' })).to.throw(ConvertError, /custom-runtime/);
      expect(() => lambda({ 'index.js': '', '__swirl_lambda__.cjs': '' })).to.throw(ConvertError, /__swirl_lambda__\.cjs/);
    });
  });

  describe('OpenFaaS stack files', function () {
    it('picks the function by name, else by handler folder, else the only one', function () {
      expect(stackFunction(STACK, 'hello', 'x').fn.lang).to.equal('node20');
      expect(stackFunction(STACK, 'renamed', '/tmp/hello-fn/').name).to.equal('hello');
      expect(stackFunction('functions:\n  solo:\n    lang: python3\n', 'x', 'y').name).to.equal('solo');
      expect(() => stackFunction(STACK, 'nope', 'none')).to.throw(ConvertError, /no function 'nope'.*other, hello/);
      expect(() => stackFunction('provider: {}\n', 'x', 'y')).to.throw(ConvertError, /no functions section/);
      expect(() => stackFunction('functions: [\n', 'x', 'y')).to.throw(ConvertError, /no valid YAML/);
    });

    it('reads Go durations and Kubernetes quantities', function () {
      expect([durationMs('10s'), durationMs('1m30s'), durationMs('500ms'), durationMs('5'), durationMs('soon')]).to.deep.equal([10_000, 90_000, 500, 5000, undefined]);
      expect([memoryMb('128Mi'), memoryMb('1Gi'), memoryMb('256M'), memoryMb('lots')]).to.deep.equal([128, 1024, 244, undefined]);
    });
  });

  describe('OpenFaaS folders', function () {
    it('maps environment, watchdog timeouts, limits and annotations, and lists what it leaves', function () {
      const plan = planOpenFaas(files({ 'handler.js': 'module.exports = async () => 1', 'package.json': '{"main":"handler.js","dependencies":{"axios":"1"}}' }), { name: 'hello', folder: 'hello-fn', stack: stackFunction(STACK, 'hello', 'hello-fn').fn });
      expect(plan.kind).to.equal('nodejs:20');
      expect(JSON.parse(strFromU8(plan.files['package.json']!))).to.deep.include({ main: '__swirl_openfaas__.cjs', dependencies: { axios: '1' } });
      expect(plan.parameters).to.deep.equal([{ key: '__OPENFAAS_CONFIG', value: { environment: { API_URL: 'https://example.com' } } }]);
      expect(plan.limits).to.deep.equal({ timeout: 90_000, memory: 512 });
      expect(plan.annotations).to.deep.include({ key: 'team', value: 'blue' });
      expect(plan.annotations).to.deep.include({ key: 'raw-http', value: true });
      const left = plan.notConverted.join('\n');
      for (const what of [/write_debug/, /memory 1Gi/, /cpu 200m/, /topic=orders/, /secret api-key/, /environment_file env\.yml/, /dependencies axios: not installed/]) expect(left).to.match(what);
    });

    it('--template wins over the stack file; the classic templates get their own call style', function () {
      const py = planOpenFaas(files({ 'handler.py': 'def handle(req):\n    return req\n' }), { name: 'p', folder: 'p', template: 'python3', stack: { lang: 'node20' } });
      expect(strFromU8(py.files['__main__.py']!)).to.contain('handler.handle(event.body.decode');
      const node = planOpenFaas(files({ 'handler.js': '' }), { name: 'n', folder: 'n', template: 'node' });
      expect(strFromU8(node.files['__swirl_openfaas__.cjs']!)).to.contain('return callClassic(event)');
    });

    it('refuses dockerfile and other templates, a folder without the handler, and no template at all', function () {
      const f = files({ 'handler.js': '', Dockerfile: 'FROM x' });
      expect(() => planOpenFaas(f, { name: 'd', folder: 'd', template: 'dockerfile' })).to.throw(ConvertError, /template 'dockerfile' cannot be converted.*--docker/);
      expect(() => planOpenFaas(f, { name: 'g', folder: 'g', template: 'golang-middleware' })).to.throw(ConvertError, /template 'golang-middleware' cannot be converted/);
      expect(() => planOpenFaas(f, { name: 'p', folder: 'p', template: 'python27' })).to.throw(ConvertError, /Python 3 only/);
      expect(() => planOpenFaas(files({ 'index.py': '' }), { name: 'p', folder: 'p', template: 'python3-http' })).to.throw(ConvertError, /p has no handler\.py/);
      expect(() => planOpenFaas(f, { name: 'x', folder: 'x' })).to.throw(ConvertError, /No template/);
    });
  });
});
