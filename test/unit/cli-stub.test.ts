import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiStub } from '../support/cli-stub.ts';
import { swirlInProcess } from '../support/cli.ts';

/**
 * The commands whose API routes the controller does not serve yet (invoke, fire, rule
 * enable/disable, activations, package refresh, feeds), checked against a stub of
 * OpenWhisk's REST API: the requests the CLI builds and what it prints for the replies.
 */
const KEY = '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP';
const ID = 'a'.repeat(32);
const TXID = 'f'.repeat(32);

const record = (over: Record<string, unknown> = {}) => ({
  activationId: ID,
  namespace: 'guest',
  name: 'hello',
  subject: 'guest',
  version: '0.0.1',
  publish: false,
  start: Date.UTC(2024, 0, 2, 3, 4, 5),
  end: Date.UTC(2024, 0, 2, 3, 4, 5) + 34,
  duration: 34,
  annotations: [
    { key: 'kind', value: 'nodejs:20' },
    { key: 'initTime', value: 20 },
  ],
  logs: ['2024-01-02T03:04:05.010Z stdout: hello log'],
  response: { status: 'success', statusCode: 0, success: true, result: { greeting: 'hi' } },
  ...over,
});

describe('swirl CLI against a stub API (routes the controller does not serve yet)', function () {
  const stub = new ApiStub();
  let env: Record<string, string>;
  const run = (...args: string[]) => swirlInProcess(args, env);
  const A = '/api/v1/namespaces/_';

  before(async () => {
    await stub.start();
    env = { __OW_API_HOST: stub.url, __OW_API_KEY: KEY };
  });
  afterEach(() => stub.reset());
  after(() => stub.stop());

  describe('action invoke', () => {
    it('non-blocking: POSTs the parameters and prints the activation id', async () => {
      stub.on(`POST ${A}/actions/hello`, { status: 202, body: { activationId: ID } });
      const r = await run('action', 'invoke', 'hello', '-p', 'name', 'Bob', '-p', 'n', '3', '-p', 'obj', '{"a":[1]}');
      expect(r).to.deep.include({ code: 0, stderr: '' });
      expect(r.stdout).to.equal(`ok: invoked /_/hello with id ${ID}\n`);
      const [req] = stub.seen;
      expect(req).to.deep.include({ method: 'POST', path: `${A}/actions/hello`, query: { blocking: 'false', result: 'false' } });
      expect(req!.body).to.deep.equal({ name: 'Bob', n: 3, obj: { a: [1] } });
      expect(req!.authorization).to.equal('Basic ' + Buffer.from(KEY).toString('base64'));
    });

    it('-b prints the activation record; -r only the result; a package action; -P file under -p', async () => {
      stub.on(`POST ${A}/actions/pkg/hello`, (req) => ({ status: 200, body: req.query.result === 'true' ? { greeting: 'hi' } : record() }));
      const file = join(mkdtempSync(join(tmpdir(), 'swirl-p-')), 'params.json');
      writeFileSync(file, JSON.stringify({ name: 'from file', other: true }));
      const b = await run('action', 'invoke', 'pkg/hello', '-b', '-P', file, '-p', 'name', 'flag');
      expect(stub.seen[0]!.body).to.deep.equal({ name: 'flag', other: true });
      expect(b.code).to.equal(0);
      expect(b.stdout).to.match(new RegExp(`^ok: invoked /_/pkg/hello with id ${ID}\n\\{\n    "activationId"`));
      expect(JSON.parse(b.stdout.slice(b.stdout.indexOf('\n') + 1)).response.result).to.deep.equal({ greeting: 'hi' });
      const r = await run('action', 'invoke', 'pkg/hello', '-r');
      expect(JSON.parse(r.stdout)).to.deep.equal({ greeting: 'hi' });
      expect(stub.seen.map((s) => s.query)).to.deep.equal([
        { blocking: 'true', result: 'false' },
        { blocking: 'true', result: 'true' },
      ]);
    });

    it('an application error (502): prints the record, reports the error, exits 246', async () => {
      const failed = record({ response: { status: 'application error', statusCode: 1, success: false, result: { error: 'no name given' } } });
      stub.on(`POST ${A}/actions/hello`, { status: 502, body: failed });
      const r = await run('action', 'invoke', 'hello', '--blocking');
      expect(r.code).to.equal(246);
      expect(r.stdout).to.contain(`ok: invoked /_/hello with id ${ID}`).and.contain('"application error"');
      expect(r.stderr).to.equal(`error: Unable to invoke action 'hello': no name given (code ${TXID})\n`);
    });

    it('a reply nested deeper than any swirl sends is shown as text, not a crash', async () => {
      const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
      stub.on(`POST ${A}/actions/hello`, { status: 200, raw: deep });
      const r = await run('action', 'invoke', 'hello', '-r');
      expect(r).to.deep.include({ code: 0, stderr: '' });
      expect(r.stdout).to.equal(`${JSON.stringify(deep)}\n`);
    });

    it('a blocking call still running after the wait (202): says so and exits 202', async () => {
      stub.on(`POST ${A}/actions/slow`, { status: 202, body: { activationId: ID } });
      const r = await run('action', 'invoke', 'slow', '-b');
      expect(r).to.deep.include({ code: 202, stdout: `ok: invoked /_/slow, but the request has not yet finished, with id ${ID}\n` });
    });

    it('an action that does not exist: error with the server transaction id, exit 148', async () => {
      const r = await run('action', 'invoke', 'missing');
      expect(r).to.deep.include({ code: 148, stdout: '' });
      expect(r.stderr).to.equal(`error: Unable to invoke action 'missing': The requested resource does not exist. (code ${'e'.repeat(32)})\n`);
    });
  });

  describe('trigger', () => {
    it('fire: POSTs the payload and prints the activation id; 204 says no rule ran', async () => {
      stub.on(`POST ${A}/triggers/t`, { status: 202, body: { activationId: ID } });
      stub.on(`POST ${A}/triggers/idle`, { status: 204 });
      const r = await run('trigger', 'fire', 't', '-p', 'temp', '21');
      expect(r).to.deep.include({ code: 0, stdout: `ok: triggered /_/t with id ${ID}\n` });
      expect(stub.seen[0]!.body).to.deep.equal({ temp: 21 });
      const idle = await run('trigger', 'fire', 'idle');
      expect(idle).to.deep.include({ code: 0, stdout: 'trigger /_/idle did not fire as it is not associated with an active rule\n' });
    });

    it('create --feed: creates the trigger with a feed annotation, calls the feed with CREATE, then says created (wsk\'s order)', async () => {
      stub.on(`PUT ${A}/triggers/every`, (req) => ({ status: 200, body: { namespace: 'guest', name: 'every', ...req.body } }));
      stub.on(`POST ${A}/actions/alarms/alarm`, { status: 200, body: { activationId: ID } });
      const r = await run('trigger', 'create', 'every', '--feed', 'alarms/alarm', '-p', 'cron', '* * * * *');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`ok: invoked /_/alarms/alarm with id ${ID}\nok: created trigger every\n`);
      const [put, feed] = stub.seen;
      expect(put!.query).to.deep.equal({ overwrite: 'false' });
      expect(put!.body).to.deep.equal({ annotations: [{ key: 'feed', value: '/_/alarms/alarm' }] });
      expect(feed!.query).to.deep.equal({ blocking: 'true', result: 'false' });
      expect(feed!.body).to.deep.equal({ cron: '* * * * *', lifecycleEvent: 'CREATE', triggerName: '/_/every', authKey: KEY });
    });

    it('create --feed: when the feed fails, the trigger is deleted again and only the error is printed (no ok: created)', async () => {
      stub.on(`PUT ${A}/triggers/every`, { status: 200, body: {} });
      stub.on(`POST ${A}/actions/feed`, { status: 502, body: { error: 'feed refused', code: 'c'.repeat(32) } });
      stub.on(`DELETE ${A}/triggers/every`, { status: 200, body: {} });
      const r = await run('trigger', 'create', 'every', '--feed', 'feed');
      expect(r.code).to.equal(246);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.equal(`error: Unable to create trigger 'every': Unable to configure feed '/_/feed': feed refused (code ${'c'.repeat(32)})\n`);
      expect(stub.seen.map((s) => `${s.method} ${s.path}`)).to.deep.equal([`PUT ${A}/triggers/every`, `POST ${A}/actions/feed`, `DELETE ${A}/triggers/every`]);
    });

    it('delete of a feed trigger calls the feed with DELETE first', async () => {
      stub.on(`GET ${A}/triggers/every`, { status: 200, body: { namespace: 'guest', name: 'every', annotations: [{ key: 'feed', value: '/guest/alarms/alarm' }] } });
      stub.on('POST /api/v1/namespaces/guest/actions/alarms/alarm', { status: 200, body: { activationId: ID } });
      stub.on(`DELETE ${A}/triggers/every`, { status: 200, body: {} });
      const r = await run('trigger', 'delete', 'every');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain('ok: deleted trigger every');
      expect(stub.seen[1]!.body).to.include({ lifecycleEvent: 'DELETE', triggerName: '/_/every' });
      expect(stub.seen.at(-1)!.method).to.equal('DELETE');
    });
  });

  describe('rule enable, disable and delete --disable', () => {
    it('POST the new status', async () => {
      stub.on(`POST ${A}/rules/r`, { status: 200, body: {} });
      stub.on(`DELETE ${A}/rules/r`, { status: 200, body: {} });
      expect((await run('rule', 'enable', 'r')).stdout).to.equal('ok: enabled rule r\n');
      expect((await run('rule', 'disable', 'r')).stdout).to.equal('ok: disabled rule r\n');
      expect((await run('rule', 'delete', 'r', '--disable')).stdout).to.equal('ok: disabled rule r\nok: deleted rule r\n');
      expect(stub.seen.map((s) => [s.method, s.body?.status])).to.deep.equal([
        ['POST', 'active'],
        ['POST', 'inactive'],
        ['POST', 'inactive'],
        ['DELETE', undefined],
      ]);
    });
  });

  describe('package refresh', () => {
    it('POSTs to the namespace and lists the binding changes', async () => {
      stub.on(`POST ${A}/packages/refresh`, { status: 200, body: { added: ['/guest/new'], updated: [], deleted: ['/guest/old'] } });
      const r = await run('package', 'refresh');
      expect(r.stdout).to.equal("'_' refreshed successfully\ncreated bindings:\n/guest/new\nupdated bindings:\ndeleted bindings:\n/guest/old\n");
    });

    it("OpenWhisk's API no longer serves it: its 405 is reported in wsk's words", async () => {
      stub.on(`POST ${A}/packages/refresh`, { status: 405, body: { error: 'Method not allowed.', code: TXID } });
      const r = await run('package', 'refresh');
      expect(r).to.deep.include({ code: 405 % 256, stdout: '', stderr: `error: Package refresh for namespace '_' failed: Method not allowed. (code ${TXID})\n` });
    });
  });

  describe('activation', () => {
    it('list: the query, and wsk\'s table (Datetime, Activation ID, Kind, Start, Duration, Status, Entity)', async () => {
      const warm = record({ activationId: 'b'.repeat(32), annotations: [{ key: 'kind', value: 'python:3' }], duration: 1500, response: { status: 'action developer error', statusCode: 2, success: false } });
      stub.on(`GET ${A}/activations`, { status: 200, body: [record(), warm] });
      const r = await run('activation', 'list', 'hello', '--limit', '5', '--skip', '1', '--since', '1000', '--upto', '2000');
      expect(stub.seen[0]!.query).to.deep.equal({ name: 'hello', limit: '5', skip: '1', since: '1000', upto: '2000' });
      await run('activation', 'list', '/guest/pkg/hello');
      expect(stub.seen[1]!.query).to.deep.equal({ name: 'pkg/hello' });
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^Datetime {12}Activation ID {20}Kind {6}Start Duration {3}Status {10}Entity$/);
      expect(lines[1]).to.match(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d ${ID} nodejs:20 cold  34ms {7}success {9}guest/hello:0\\.0\\.1$`));
      expect(lines[2]).to.match(/ python:3 {2}warm {2}1\.5s {7}developer error guest\/hello:0\.0\.1$/);
    });

    it('get --last: looks up the newest activation, then prints it; a field filter', async () => {
      stub.on(`GET ${A}/activations`, { status: 200, body: [record()] });
      stub.on(`GET ${A}/activations/${ID}`, { status: 200, body: record() });
      const r = await run('activation', 'get', '--last');
      expect(stub.seen[0]!.query).to.deep.equal({ limit: '1', skip: '0' });
      expect(r.stdout).to.match(new RegExp(`^ok: got activation ${ID}\n\\{`));
      const f = await run('activation', 'get', ID, 'response');
      expect(f.stdout).to.match(new RegExp(`^ok: got activation ${ID}, displaying field response\n`));
      expect(JSON.parse(f.stdout.slice(f.stdout.indexOf('\n'))).result).to.deep.equal({ greeting: 'hi' });
    });

    it('logs (and --strip) and result', async () => {
      stub.on(`GET ${A}/activations/${ID}/logs`, { status: 200, body: { logs: ['2024-01-02T03:04:05.010Z stdout: one', '2024-01-02T03:04:05.020Z stderr: two'] } });
      stub.on(`GET ${A}/activations/${ID}/result`, { status: 200, body: { status: 'success', statusCode: 0, success: true, result: { ok: 1 } } });
      expect((await run('activation', 'logs', ID)).stdout).to.equal('2024-01-02T03:04:05.010Z stdout: one\n2024-01-02T03:04:05.020Z stderr: two\n');
      expect((await run('activation', 'logs', ID, '--strip')).stdout).to.equal('one\ntwo\n');
      expect(JSON.parse((await run('activation', 'result', ID)).stdout)).to.deep.equal({ ok: 1 });
    });

    it('get without an id or --last is a usage error', async () => {
      const r = await run('activation', 'get');
      expect(r).to.deep.include({ code: 2, stderr: 'error: An activation ID is required (or --last).\n' });
    });

    it('poll: follows new activations, printing each one\'s logs once, and stops at --exit', async () => {
      const first = record({ start: 1000 });
      const second = record({ activationId: 'c'.repeat(32), name: 'other', start: 2000, logs: ['x stdout: second'] });
      let polls = 0;
      stub.on(`GET ${A}/activations`, (req) => {
        if (req.query.limit === '1') return { status: 200, body: [record({ start: 500 })] };
        polls++;
        return { status: 200, body: polls === 1 ? [first] : [second, first] };
      });
      const r = await run('activation', 'poll', '--exit', '1', '--interval', '100');
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^Enter Ctrl-c to exit\.\nPolling for activation logs\n/);
      expect(r.stdout.match(/Activation: /g)).to.have.length(2);
      expect(r.stdout).to.contain(`\nActivation: 'hello' (${ID})\n[\n    "2024-01-02T03:04:05.010Z stdout: hello log"\n]\n`);
      expect(r.stdout).to.contain(`\nActivation: 'other' (${'c'.repeat(32)})\n`);
      const queries = stub.seen.filter((s) => s.query.docs === 'true' && s.query.limit === '0');
      expect(queries[0]!.query.since).to.equal('501');
      expect(queries.at(-1)!.query.since).to.equal('2000');
    });
  });
});
