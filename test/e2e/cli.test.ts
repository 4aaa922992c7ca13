import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { API_ERROR, type CliRun, swirl } from '../support/cli.ts';
import { Terminal } from '../support/cli-terminal.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { suiteServer, type TestServer } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/**
 * The `swirl` command as users run it: bin/swirl.js spawned against a live server, its
 * output and exit codes checked per command group. (Package refresh's 200 reply, which
 * OpenWhisk's API no longer gives, is checked against a stub in test/unit/cli-stub.test.ts.)
 */
describe('swirl CLI (bin/swirl.js against a live server)', function () {
  this.timeout(30_000);
  let server: TestServer;
  let work: string;
  let props: string;
  suiteServer((s) => void (server = s), { SWIRL_AUTH_CACHE_MS: '0' });

  /** Run with the props file the suite set up (no settings from the environment). */
  const run = (...args: string[]): Promise<CliRun> => swirl(args, { WSK_CONFIG_FILE: props }, work);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await run(...args);
    expect(r.code, `swirl ${args.join(' ')}\n${r.stderr}`).to.equal(0);
    return r.stdout;
  };
  const json = async (...args: string[]): Promise<any> => JSON.parse(await ok(...args, '--json'));

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'swirl-cli-e2e-'));
    props = join(work, 'wskprops');
    writeFileSync(join(work, 'hello.js'), 'function main(p) { return { greeting: `hello ${p.name}` } }\n');
    mkdirSync(join(work, 'app'));
    writeFileSync(join(work, 'app/package.json'), '{"main": "index.js"}');
    writeFileSync(join(work, 'app/index.js'), 'exports.main = () => ({ ok: true })');
    writeFileSync(join(work, 'py.zip'), zipSync({ '__main__.py': new TextEncoder().encode('def main(a): return a') }));
    writeFileSync(join(work, 'tool.sh'), '#!/bin/sh\nread line; echo "{}"\n');
    writeFileSync(join(work, 'params.json'), '{"a": 1, "b": {"c": true}}');
    const set = await swirl(['property', 'set', '--apihost', server.url, '--auth', server.guestKey], { WSK_CONFIG_FILE: props }, work);
    expect(set.stdout).to.equal(`ok: whisk API host set to ${server.url}\nok: whisk auth set. Run 'swirl property get --auth' to see the new value.\n`);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  describe('help', () => {
    it('has help for the program and each command; a mistyped command is a usage error', async () => {
      const [top, action, create, bad] = await Promise.all([run('--help'), run('action', '--help'), run('rule', 'create', '--help'), run('acton', 'list')]);
      expect(top.code).to.equal(0);
      expect(top.stdout).to.match(/^Usage: swirl \[options\] \[command\]/);
      for (const group of ['action', 'activation', 'package', 'rule', 'trigger', 'namespace', 'list', 'property', 'admin', 'completion']) expect(top.stdout).to.match(new RegExp(`^  ${group}\\b`, 'm'));
      expect(top.stdout).to.contain('-u, --auth <key>').and.contain('--apihost <host>').and.contain('__OW_API_HOST');
      for (const verb of ['create', 'update', 'invoke', 'get', 'list', 'delete']) expect(action.stdout).to.match(new RegExp(`^  ${verb}\\b`, 'm'));
      expect(create.stdout).to.match(/^Usage: swirl rule create \[options\] <name> <trigger> <action>/);
      expect(create.stdout).to.contain('Global Options:');
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.match(/^error: unknown command 'acton'\n\(Did you mean action\?\)/);
    });
  });

  describe('property', () => {
    it('set, get and unset the props file named by WSK_CONFIG_FILE', async () => {
      const file = join(work, 'props-test');
      const p = (...args: string[]) => swirl(['property', ...args], { WSK_CONFIG_FILE: file }, work);
      expect((await p('set', '--apihost', 'h.example:443', '-u', 'u:k', '--namespace', 'team')).stdout).to.match(/^ok: whisk API host set to h.example:443\nok: whisk auth set\. .*\nok: whisk namespace set to team\n$/);
      expect(readFileSync(file, 'utf8')).to.equal('APIHOST=h.example:443\nAUTH=u:k\nNAMESPACE=team\n');
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      const [one, every, none] = await Promise.all([p('get', '--apihost'), p('get'), p('set')]);
      expect(one.stdout).to.equal('whisk API host      h.example:443\n');
      expect(none).to.deep.include({ code: 2, stderr: 'error: Set at least one of --apihost, --auth, --namespace.\n' });
      const all = every.stdout;
      expect(all).to.match(/^whisk auth {10}u:k$/m).and.match(/^whisk namespace {5}team$/m).and.match(/^whisk CLI version {3}0\.1\.0$/m);
      expect((await p('unset', '--namespace', '--auth')).stdout).to.equal('ok: whisk auth unset.\nok: whisk namespace unset; the default value of _ will be used.\n');
      expect(readFileSync(file, 'utf8')).to.equal('APIHOST=h.example:443\n');
    });

    it('a flag wins over the environment, the environment over the file', async () => {
      const file = join(work, 'props-precedence');
      writeFileSync(file, `APIHOST=127.0.0.1:1\nAUTH=${server.guestKey}\n`);
      const ns = (args: string[], env: Record<string, string>) => swirl(['namespace', 'list', ...args], { WSK_CONFIG_FILE: file, ...env }, work);
      const badKey = '11111111-2222-3333-4444-555555555555:' + 'x'.repeat(64);
      const [fileOnly, envHost, flagHost, envKey, flagKey] = await Promise.all([
        ns([], {}),
        ns([], { __OW_API_HOST: server.url }),
        ns(['--apihost', '127.0.0.1:1'], { __OW_API_HOST: server.url }),
        ns([], { __OW_API_HOST: server.url, __OW_API_KEY: badKey }),
        ns(['-u', server.guestKey], { __OW_API_HOST: server.url, __OW_API_KEY: badKey }),
      ]);
      expect(fileOnly.code, 'the file alone names an unreachable host').to.equal(3);
      expect(fileOnly.stderr).to.contain('cannot reach http://127.0.0.1:1');
      expect(envHost).to.deep.include({ code: 0, stdout: 'namespaces\nguest\n' });
      expect(flagHost.code, '--apihost wins over __OW_API_HOST').to.equal(3);
      expect(envKey.code, '__OW_API_KEY wins over the file').to.equal(145);
      expect(envKey.stderr).to.match(API_ERROR('Unable to get the list of namespaces: The supplied authentication is invalid.'));
      expect(flagKey, '-u wins over __OW_API_KEY').to.deep.include({ code: 0, stdout: 'namespaces\nguest\n' });
    });
  });

  describe('action', () => {
    it('create from a .js file (kind told by the extension) with parameters, annotations and limits; get', async () => {
      expect(await ok('action', 'create', 'hello', 'hello.js', '-p', 'name', 'World', '-p', 'n', '3', '-P', 'params.json', '-a', 'description', 'greets', '-t', '3000', '-m', '128', '-l', '1', '-c', '2')).to.equal('ok: created action hello\n');
      const [got, field, summary] = await Promise.all([ok('action', 'get', 'hello'), ok('action', 'get', 'hello', 'limits'), ok('action', 'get', 'hello', '--summary')]);
      expect(summary).to.equal('action /guest/hello: greets\n   (parameters: *a, *b, *n, *name)\n');
      expect(got).to.match(/^ok: got action hello\n\{\n {4}"namespace": "guest",\n/);
      const a = JSON.parse(got.slice(got.indexOf('\n') + 1));
      expect(a.exec).to.deep.include({ kind: 'nodejs:20', binary: false });
      expect(a.exec.code).to.equal(readFileSync(join(work, 'hello.js'), 'utf8'));
      // shown encrypted, as OpenWhisk shows them; these are their values
      expect(server.reveal(a)).to.deep.equal([
        { key: 'a', value: 1 },
        { key: 'b', value: { c: true } },
        { key: 'name', value: 'World' },
        { key: 'n', value: 3 },
      ]);
      expect(a.annotations).to.deep.include({ key: 'description', value: 'greets' });
      expect(a.limits).to.deep.equal({ timeout: 3000, memory: 128, logs: 1, concurrency: 2 });
      expect(field).to.equal('ok: got action hello, displaying field limits\n{\n    "timeout": 3000,\n    "memory": 128,\n    "logs": 1,\n    "concurrency": 2\n}\n');
    });

    it('a second create is a conflict: the error on stderr with the transaction id, exit 153', async () => {
      const r = await run('action', 'create', 'hello', 'hello.js');
      expect(r).to.deep.include({ code: 153, stdout: '' });
      expect(r.stderr).to.match(API_ERROR("Unable to create action 'hello': resource already exists"));
      expect(r.stderr, 'no colour when stderr is not a terminal').to.not.contain('\u001b[');
    });

    it('update bumps the version and keeps what it does not change', async () => {
      expect(await ok('action', 'update', 'hello', '-p', 'name', 'Ann')).to.equal('ok: updated action hello\n');
      const a = await json('action', 'get', 'hello');
      expect(a.version).to.equal('0.0.2');
      expect(server.reveal(a)).to.deep.equal([{ key: 'name', value: 'Ann' }]);
      expect(a.exec.kind).to.equal('nodejs:20');
      expect(a.limits.memory).to.equal(128);
    });

    it('a directory is zipped for the user; --save gets the zip back', async () => {
      expect(await ok('action', 'create', 'app', 'app')).to.equal('ok: created action app\n');
      const [a, saved] = await Promise.all([json('action', 'get', 'app'), ok('action', 'get', 'app', '--save')]);
      expect(a.exec).to.deep.include({ kind: 'nodejs:20', binary: true });
      expect(saved).to.equal(`ok: saved action code to ${join(work, 'app.zip')}\n`);
      expect(Object.keys(unzipSync(readFileSync(join(work, 'app.zip')))).sort()).to.deep.equal(['index.js', 'package.json']);
      const [again] = await Promise.all([run('action', 'get', 'app', '--save'), ok('action', 'get', 'hello', '--save-as', 'copy.js')]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.equal(`error: The file '${join(work, 'app.zip')}' already exists.\n`);
      expect(readFileSync(join(work, 'copy.js'), 'utf8')).to.equal(readFileSync(join(work, 'hello.js'), 'utf8'));
    });

    it('a .zip needs --kind; --docker, --native and --sequence make the other kinds', async () => {
      const [noKind] = await Promise.all([
        run('action', 'create', 'py', 'py.zip'),
        ok('action', 'create', 'py', 'py.zip', '--kind', 'python:default'),
        ok('action', 'create', 'box', '--docker', 'example/echo:1'),
        ok('action', 'create', 'tool', 'tool.sh', '--native'),
        ok('action', 'create', 'seq', '--sequence', 'hello,app'),
      ]);
      expect(noKind.code).to.equal(2);
      expect(noKind.stderr).to.equal('error: creating an action from a .zip artifact requires specifying the action kind explicitly: use --kind with one of nodejs:20, python:3, stdio.\n');
      const [py, box, tool, seq] = await Promise.all(['py', 'box', 'tool', 'seq'].map((n) => json('action', 'get', n)));
      expect(py.exec).to.deep.include({ kind: 'python:3', binary: true });
      expect(box.exec).to.deep.include({ kind: 'blackbox', image: 'example/echo:1' });
      expect(tool.exec).to.deep.include({ kind: 'stdio', code: '#!/bin/sh\nread line; echo "{}"\n' });
      expect(seq.exec).to.deep.include({ kind: 'sequence', components: ['/guest/hello', '/guest/app'] });
    });

    it('--web makes a web action; get --url gives its web URL (else its API URL)', async () => {
      await ok('action', 'update', 'app', '--web', 'raw');
      const [a, webUrl, apiUrl] = await Promise.all([json('action', 'get', 'app'), ok('action', 'get', 'app', '--url'), ok('action', 'get', 'hello', '--url')]);
      expect(a.annotations).to.deep.include.members([
        { key: 'web-export', value: true },
        { key: 'raw-http', value: true },
        { key: 'final', value: true },
      ]);
      expect(webUrl).to.equal(`ok: got action app\n${server.url}/api/v1/web/guest/default/app\n`);
      expect(apiUrl).to.equal(`ok: got action hello\n${server.url}/api/v1/namespaces/guest/actions/hello\n`);
    });

    it("list: wsk's rows (name, visibility, kind) and the version; --name-sort", async () => {
      const [out, two] = await Promise.all([ok('action', 'list', '--name-sort'), json('action', 'list', '--limit', '2')]);
      const lines = out.trimEnd().split('\n');
      expect(lines[0]).to.equal('actions');
      expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).to.deep.equal(['/guest/app', '/guest/box', '/guest/hello', '/guest/py', '/guest/seq', '/guest/tool']);
      expect(lines).to.include(`/guest/hello${' '.repeat(58)} private nodejs:20 0.0.2`);
      expect(out).to.match(/^\/guest\/seq {61}private sequence {2}0\.0\.1$/m);
      expect(two.length).to.equal(2);
    });

    it('-v prints each request and response on stderr, the key masked', async () => {
      const r = await run('action', 'get', 'hello', '-v');
      expect(r.code).to.equal(0);
      expect(r.stderr).to.contain(`REQUEST:\n[GET]\t${server.url}/api/v1/namespaces/_/actions/hello\n`);
      expect(r.stderr).to.contain('"authorization": "Basic ********"').and.contain('RESPONSE:Got response with code 200');
      expect(r.stderr).to.not.contain(server.guestKey.split(':')[1]!).and.not.contain(Buffer.from(server.guestKey).toString('base64'));
      expect(r.stdout).to.match(/^ok: got action hello\n/);
    });

    it('delete; then the action is gone (exit 148)', async () => {
      expect(await ok('action', 'delete', 'py')).to.equal('ok: deleted action py\n');
      const r = await run('action', 'get', 'py');
      expect(r.code).to.equal(148);
      expect(r.stderr).to.match(API_ERROR("Unable to get action 'py': The requested resource does not exist."));
    });
  });

  describe('trigger', () => {
    it('create, get, update, list, delete', async () => {
      expect(await ok('trigger', 'create', 'tick', '-p', 'every', '5', '-a', 'owner', 'ops')).to.equal('ok: created trigger tick\n');
      const t = await json('trigger', 'get', 'tick');
      expect(t).to.deep.include({ name: 'tick', version: '0.0.1', annotations: [{ key: 'owner', value: 'ops' }] });
      expect(server.reveal(t)).to.deep.equal([{ key: 'every', value: 5 }]);
      expect(await ok('trigger', 'update', 'tick', '-p', 'every', '10')).to.equal('ok: updated trigger tick\n');
      const [updated, list, inPackage] = await Promise.all([json('trigger', 'get', 'tick'), ok('trigger', 'list'), run('trigger', 'create', 'p/t')]);
      expect(server.reveal(updated)).to.deep.equal([{ key: 'every', value: 10 }]);
      expect(list).to.equal(`triggers\n/guest/tick${' '.repeat(59)} private 0.0.2\n`);
      expect(inPackage).to.deep.include({ code: 2, stderr: "error: A trigger cannot be inside a package: 'p/t'.\n" });
      await ok('trigger', 'create', 'gone');
      expect(await ok('trigger', 'delete', 'gone')).to.equal('ok: deleted trigger gone\n');
      expect((await run('trigger', 'get', 'gone')).code).to.equal(148);
    });
  });

  describe('rule', () => {
    it('create, status, get, list, update, delete', async () => {
      expect(await ok('rule', 'create', 'on-tick', 'tick', 'hello')).to.equal('ok: created rule on-tick\n');
      const [status, r, list, missing] = await Promise.all([ok('rule', 'status', 'on-tick'), json('rule', 'get', 'on-tick'), ok('rule', 'list'), run('rule', 'create', 'bad', 'tick', 'nothing')]);
      expect(status).to.equal('ok: rule on-tick is active\n');
      expect(r.trigger).to.deep.equal({ name: 'tick', path: 'guest' });
      expect(r.action).to.deep.equal({ name: 'hello', path: 'guest' });
      expect(list).to.equal(`rules\n/guest/on-tick${' '.repeat(56)} private active 0.0.1\n`);
      expect(await ok('rule', 'update', 'on-tick', 'tick', 'app')).to.equal('ok: updated rule on-tick\n');
      expect((await json('rule', 'get', 'on-tick')).action).to.deep.equal({ name: 'app', path: 'guest' });
      expect(missing.code).to.equal(148);
      expect(missing.stderr).to.match(API_ERROR("Unable to create rule 'bad': The action '/_/nothing' does not exist."));
      expect(await ok('rule', 'delete', 'on-tick')).to.equal('ok: deleted rule on-tick\n');
    });
  });

  describe('package', () => {
    it('create, update, bind, get, list, actions inside, delete', async () => {
      expect(await ok('package', 'create', 'utils', '--shared', 'yes', '-p', 'region', 'eu')).to.equal('ok: created package utils\n');
      expect(await ok('package', 'update', 'utils', '-a', 'description', 'tools')).to.equal('ok: updated package utils\n');
      expect(await ok('package', 'bind', 'utils', 'myutils', '-p', 'region', 'us')).to.equal('ok: created binding myutils\n');
      // (the action first: a get running beside its create may come before it)
      await ok('action', 'create', 'utils/greet', 'hello.js');
      const b = await json('package', 'get', 'myutils');
      expect(b.binding).to.deep.equal({ namespace: 'guest', name: 'utils' });
      // a binding shows the bound package's parameters with its own on top, and its actions
      expect(server.reveal(b)).to.deep.equal([{ key: 'region', value: 'us' }]);
      expect(b.actions.map((a: { name: string }) => a.name)).to.deep.equal(['greet']);
      expect(await ok('package', 'get', 'utils', '--summary')).to.equal('package /guest/utils: tools\n   (parameters: *region)\n action /guest/utils/greet\n    (parameters: none defined)\n');
      // the system packages are there for everyone, their actions' parameters described
      const [system, head] = await Promise.all([ok('package', 'list', '/whisk.system'), ok('package', 'get', '/whisk.system/utils', '--summary')]);
      expect(system.split('\n').map((l) => l.split(/\s+/)[0])).to.include.members(['/whisk.system/utils', '/whisk.system/alarms', '/whisk.system/messaging']);
      expect(head).to.contain(' action /whisk.system/utils/head: Extracts the head of an array\n    (parameters: lines, num)\n');
      const [inside, list, full] = await Promise.all([ok('action', 'list', 'utils'), ok('package', 'list', '--name-sort'), run('package', 'delete', 'utils')]);
      expect(inside).to.equal(`actions\n/guest/utils/greet${' '.repeat(52)} private nodejs:20 0.0.1\n`);
      expect(list).to.equal(`packages\n/guest/myutils${' '.repeat(56)} private 0.0.1\n/guest/utils${' '.repeat(58)} shared  0.0.2\n`);
      expect(full.code).to.equal(153);
      expect(full.stderr).to.match(API_ERROR("Unable to delete package 'utils': Package not empty (contains 1 entity). Set force param or delete package contents."));
      expect(await ok('package', 'delete', 'myutils')).to.equal('ok: deleted package myutils\n');
      expect(await ok('package', 'delete', 'utils', '--force')).to.equal('ok: deleted package utils\n');
    });
  });

  describe('namespace and list', () => {
    it('namespace list; namespace get and list show every entity of the namespace', async () => {
      const [names, all, get, asJson, other] = await Promise.all([ok('namespace', 'list'), ok('list'), ok('namespace', 'get'), json('list'), run('list', '/someone-else')]);
      expect(names).to.equal('namespaces\nguest\n');
      const lines = all.trimEnd().split('\n');
      expect(lines.filter((l) => !l.startsWith('/'))).to.deep.equal(['Entities in namespace: default', 'packages', 'actions', 'triggers', 'rules']);
      expect(lines.slice(lines.indexOf('actions') + 1, lines.indexOf('triggers')).map((l) => l.split(/\s+/)[0]).sort()).to.deep.equal(['/guest/app', '/guest/box', '/guest/hello', '/guest/seq', '/guest/tool']);
      expect(all).to.match(/\ntriggers\n\/guest\/tick +private 0\.0\.2\nrules\n$/);
      expect(get).to.equal(all);
      expect(Object.keys(asJson)).to.deep.equal(['packages', 'actions', 'triggers', 'rules']);
      expect(asJson.actions.map((a: { name: string }) => a.name)).to.include.members(['hello', 'app', 'seq']);
      // another namespace: only its shared packages are the caller's to see
      expect(other).to.deep.include({ code: 0, stdout: 'Entities in namespace: someone-else\npackages\n', stderr: '' });
    });
  });

  describe("wsk's behaviours (issue 15)", () => {
    it('list /whisk.system lists its shared packages and leaves out the collections that answer 403', async () => {
      const r = await run('list', '/whisk.system');
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines.filter((l) => !l.startsWith('/'))).to.deep.equal(['Entities in namespace: whisk.system', 'packages']);
      expect(lines.map((l) => l.split(/\s+/)[0])).to.include.members(['/whisk.system/utils', '/whisk.system/alarms']);
    });

    it('rule list and rule get --summary: a rule whose trigger is gone is inactive', async () => {
      await ok('trigger', 'create', 'doomed');
      await ok('rule', 'create', 'orphan', 'doomed', 'hello');
      expect(await ok('rule', 'get', 'orphan', '--summary')).to.equal('rule /guest/orphan\n   (status: active)\n');
      await ok('trigger', 'delete', 'doomed');
      const [list, summary] = await Promise.all([ok('rule', 'list'), ok('rule', 'get', 'orphan', '--summary')]);
      expect(list).to.match(/^\/guest\/orphan +private inactive 0\.0\.1$/m);
      expect(summary).to.equal('rule /guest/orphan\n   (status: inactive)\n');
      await ok('rule', 'delete', 'orphan');
    });

    it("trigger create --feed: the feed's activation, then created; a failing feed leaves only its error and no trigger", async () => {
      const failed = await run('trigger', 'create', 'wake', '--feed', '/whisk.system/alarms/alarm');
      expect(failed.code).to.not.equal(0);
      expect(failed.stdout).to.equal('');
      expect(failed.stderr).to.match(/^error: Unable to create trigger 'wake': Unable to configure feed '\/whisk\.system\/alarms\/alarm': .+\(code [0-9a-f]{32}\)\n$/);
      expect((await run('trigger', 'get', 'wake')).code).to.equal(148);
      const created = await ok('trigger', 'create', 'wake', '--feed', '/whisk.system/alarms/alarm', '-p', 'cron', '0 0 1 1 *');
      expect(created).to.match(/^ok: invoked \/whisk\.system\/alarms\/alarm with id [0-9a-f]{32}\nok: created trigger wake\n$/);
      expect(await ok('trigger', 'get', 'wake', '--summary')).to.equal('trigger /guest/wake\n   (parameters: none defined)\n');
      await ok('trigger', 'delete', 'wake');
    });

    it('action create --copy, --web-secure and update --del-annotation on the live server', async () => {
      await ok('action', 'create', 'original', 'hello.js', '-a', 'description', 'greets', '-a', 'owner', 'ann', '-t', '4000');
      const copy = await run('action', 'create', 'copy', 'original', '--copy', '--web', 'true', '--web-secure', 'pass-phrase');
      expect(copy).to.deep.include({ code: 0, stdout: 'ok: created action copy\n', stderr: '' });
      const [a, b] = await Promise.all([json('action', 'get', 'original'), json('action', 'get', 'copy')]);
      expect(b.exec.code).to.equal(a.exec.code);
      expect(b.limits.timeout).to.equal(4000);
      expect(b.annotations).to.deep.include.members([{ key: 'description', value: 'greets' }, { key: 'owner', value: 'ann' }, { key: 'web-export', value: true }, { key: 'require-whisk-auth', value: 'pass-phrase' }]);
      await ok('action', 'update', 'copy', '--web-secure', 'false', '--del-annotation', 'owner');
      const keys = (await json('action', 'get', 'copy')).annotations.map((x: { key: string }) => x.key);
      expect(keys).to.include.members(['description', 'web-export']).and.not.include('require-whisk-auth').and.not.include('owner');
      await Promise.all([ok('action', 'delete', 'copy'), ok('action', 'delete', 'original')]);
    });

    it("package refresh: OpenWhisk's API no longer serves it; the CLI reports the server's answer as wsk does", async () => {
      const r = await run('package', 'refresh');
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(API_ERROR("Package refresh for namespace '_' failed: The method is not allowed for this resource."));
      expect(r.code).to.equal(405 % 256);
    });
  });

  describe('admin', () => {
    it('user create, get, list and delete in the server\'s store; the new key works; a token works as --auth', async () => {
      const admin = (...args: string[]) => swirl(['admin', ...args], { WSK_CONFIG_FILE: props, SWIRL_DATA_DIR: server.dataDir }, work);
      const created = await admin('user', 'create', 'alice');
      expect(created.code, created.stderr).to.equal(0);
      const key = created.stdout.trim();
      expect(key).to.match(/^[0-9a-f-]{36}:[A-Za-z0-9]{64}$/);
      const [got, users, names, tokenOut, bad] = await Promise.all([admin('user', 'get', 'alice'), admin('user', 'list'), ok('namespace', 'list', '-u', key), ok('admin', 'token'), admin('user', 'create', '_bad')]);
      // a key is shown once: `user get` tells the uuid, and why not the key
      expect(got.stdout).to.equal(`${key.split(':')[0]}\tnamespace alice\nthe key cannot be shown: it is stored hashed. \`user key alice\` issues a new one (the old one and its tokens stop working)\n`);
      expect(users.stdout).to.match(/^alice\talice$/m);
      expect(names).to.equal('namespaces\nalice\n');
      expect(bad).to.deep.include({ code: 2, stderr: 'error: user and namespace names may not start with _\n' });
      const token = tokenOut.trim();
      expect(token).to.match(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(await ok('namespace', 'list', '--auth', token)).to.equal('namespaces\nguest\n');
      expect((await admin('user', 'delete', 'alice')).stdout).to.equal('ok: deleted user alice\n');
      expect((await run('namespace', 'list', '-u', key)).code).to.equal(145);
    });
  });

  describe('a session in a real terminal (tmux)', () => {
    let term: Terminal | undefined;
    after(() => term?.close());

    it('shows the help, and a failing command as a red error with its exit code', async () => {
      term = await Terminal.open({ WSK_CONFIG_FILE: props });
      await term.type('swirl --help; echo "status=$?"');
      const help = await term.waitFor(/^status=\d+$/m);
      expect(help).to.contain('Usage: swirl [options] [command]').and.match(/^ {2}action {2,}work with actions$/m).and.match(/^status=0$/m);
      await term.type('swirl action get nothing-here; echo "failed=$?"');
      const screen = await term.waitFor(/^failed=\d+$/m);
      expect(screen).to.match(/^error: Unable to get action 'nothing-here': The requested resource does not exist\. \(code [0-9a-f]{32}\)$/m);
      expect(screen).to.match(/^failed=148$/m);
      const colours = await term.screen(true);
      expect(colours, 'error: in red on a terminal').to.contain("\u001b[31merror:\u001b[39m Unable to get action 'nothing-here'");
    });
  });
});

/** The commands that need the invoke path, against a controller with a live invoker (real containers). */
describe('swirl CLI: invoke and activations against a live invoker', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let work: string;
  let props: string;
  const run = (...args: string[]): Promise<CliRun> => swirl(args, { WSK_CONFIG_FILE: props }, work);

  before(async () => {
    stack = await startTestStack(factoryNames()[0]!);
    work = mkdtempSync(join(tmpdir(), 'swirl-cli-live-'));
    props = join(work, 'wskprops');
    writeFileSync(join(work, 'greet.js'), 'function main(p) { console.log("greeting " + p.name); if (p.name === "nobody") return { error: "who?" }; return { greeting: `hello ${p.name}` } }\n');
    await swirl(['property', 'set', '--apihost', stack.url, '--auth', stack.guestKey], { WSK_CONFIG_FILE: props }, work);
    expect((await run('action', 'create', 'greet', 'greet.js')).code).to.equal(0);
  });
  after(async () => {
    await stack?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('action invoke -r prints the result; -b the record; without either the activation id', async () => {
    const r = await run('action', 'invoke', 'greet', '-r', '-p', 'name', 'ann');
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ greeting: 'hello ann' });

    const b = await run('action', 'invoke', 'greet', '-b', '-p', 'name', 'bob');
    expect(b.code, b.stderr).to.equal(0);
    const [head, ...rest] = b.stdout.split('\n');
    expect(head).to.match(/^ok: invoked \/_\/greet with id [0-9a-f]{32}$/);
    expect(JSON.parse(rest.join('\n')).response.result).to.deep.equal({ greeting: 'hello bob' });

    const n = await run('action', 'invoke', 'greet', '-p', 'name', 'cy');
    expect(n.code, n.stderr).to.equal(0);
    expect(n.stdout).to.match(/^ok: invoked \/_\/greet with id [0-9a-f]{32}\n$/);
  });

  it('an action error: the record is printed, the error goes to stderr, exit code 502 % 256', async () => {
    const r = await run('action', 'invoke', 'greet', '-r', '-p', 'name', 'nobody');
    expect(r.code).to.equal(502 % 256);
    expect(JSON.parse(r.stdout)).to.deep.equal({ error: 'who?' });
    expect(r.stderr).to.match(/^error: Unable to invoke action 'greet': who\? \(code [0-9a-f]{32}\)\n$/);
  });

  it('activation list, get, logs and result of the newest activation', async () => {
    const invoked = await run('action', 'invoke', 'greet', '-p', 'name', 'dee');
    const id = /with id ([0-9a-f]{32})/.exec(invoked.stdout)![1]!;
    // non-blocking: the record is stored a moment later
    let got: CliRun | undefined;
    for (let i = 0; i < 100; i++) {
      got = await run('activation', 'get', id);
      if (got.code === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(got!.stdout.split('\n')[0]).to.equal(`ok: got activation ${id}`);
    const list = await run('activation', 'list', 'greet');
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.contain(id);
    const logs = await run('activation', 'logs', id, '--strip');
    expect(logs.stdout).to.equal('greeting dee\n');
    const result = await run('activation', 'result', '--last');
    expect(JSON.parse(result.stdout)).to.deep.equal({ greeting: 'hello dee' });
    const missing = await run('activation', 'get', '0'.repeat(32));
    expect(missing.code).to.equal(404 % 256);
    expect(missing.stderr).to.match(API_ERROR("Unable to get activation '00000000000000000000000000000000': The requested resource does not exist."));
  });

  it('trigger fire runs the active rule and prints the trigger activation id; rule disable and enable switch it', async () => {
    for (const args of [['trigger', 'create', 'bell', '-p', 'name', 'bell'], ['rule', 'create', 'ring', 'bell', 'greet']]) expect((await run(...args)).code).to.equal(0);
    const fired = await run('trigger', 'fire', 'bell');
    expect(fired.code, fired.stderr).to.equal(0);
    expect(fired.stdout).to.match(/^ok: triggered \/_\/bell with id [0-9a-f]{32}\n$/);
    expect(await run('rule', 'disable', 'ring')).to.deep.include({ code: 0, stdout: 'ok: disabled rule ring\n' });
    expect((await run('rule', 'status', 'ring')).stdout).to.equal('ok: rule ring is inactive\n');
    expect(await run('trigger', 'fire', 'bell')).to.deep.include({ code: 0, stdout: 'trigger /_/bell did not fire as it is not associated with an active rule\n' });
    expect(await run('rule', 'enable', 'ring')).to.deep.include({ code: 0, stdout: 'ok: enabled rule ring\n' });
    expect((await run('rule', 'get', 'ring', '--json')).stdout).to.contain('"status": "active"');
    expect((await run('trigger', 'fire', 'bell')).stdout).to.match(/^ok: triggered \/_\/bell with id [0-9a-f]{32}\n$/);
  });
});
