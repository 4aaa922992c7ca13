import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, unzipSync, zipSync } from 'fflate';
import { buildExec } from '../../cli/artifact.ts';
import { apiBase, authorization } from '../../cli/client.ts';
import { Cli } from '../../cli/context.ts';
import { containerTable, duration, entityRows, truncate } from '../../cli/format.ts';
import { qualify } from '../../cli/names.ts';
import { collectPair, joinPairs, keyValues, parseValue } from '../../cli/params.ts';
import { propsPath, readPropsFile, resolveProp, updatePropsFile } from '../../cli/props.ts';
import { UsageError } from '../../cli/errors.ts';
import { capture, swirlInProcess } from '../support/cli.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'swirl-cli-unit-'));

describe('swirl CLI parts', () => {
  describe('invoker containers table', () => {
    it("names the action a container serves, and the namespace invoking it when the action is another's (a shared package); a stem cell not yet taken has none", () => {
      const now = 1_000_000;
      const base = { kind: 'nodejs:20', memoryMb: 256, inFlight: 0, lastUsed: now - 4000 };
      const rows = containerTable(
        [
          { ...base, id: '0123456789abcdef0123', state: 'idle', origin: 'prewarm', action: { namespace: 'alice', name: 'alice/hello' } },
          { ...base, id: 'fedcba9876543210', state: 'busy', origin: 'cold', inFlight: 2, action: { namespace: 'bob', name: 'shared/tools/echo' } },
          { ...base, id: 'proc-42', state: 'prewarmed', origin: 'prewarm' },
        ],
        now,
      );
      expect(rows[0]).to.match(/^Container\s+State\s+Kind\s+Started as\s+In flight\s+Memory\s+Last used\s+Action$/);
      expect(rows[1]).to.match(/^0123456789ab\s+idle\s+nodejs:20\s+prewarm\s+0\s+256 MB\s+4(\.0)?s ago\s+\/alice\/hello$/);
      expect(rows[2]).to.match(/^fedcba987654\s+busy\s+nodejs:20\s+cold\s+2\s+256 MB\s+\S+ ago\s+\/shared\/tools\/echo \(by bob\)$/);
      expect(rows[3]).to.match(/^proc-42\s+prewarmed\s+nodejs:20\s+prewarm\s+0\s+256 MB\s+\S+ ago\s+-$/);
    });
  });

  describe('props file and precedence', () => {
    it('a flag wins over the environment, the environment over the file; namespace defaults to _', () => {
      const file = new Map([['APIHOST', 'file:1'], ['AUTH', 'file-key']]);
      const env = { __OW_API_HOST: 'env:1' };
      expect(resolveProp('apihost', 'flag:1', env, file)).to.deep.equal({ value: 'flag:1', source: 'flag' });
      expect(resolveProp('apihost', undefined, env, file)).to.deep.equal({ value: 'env:1', source: 'env' });
      expect(resolveProp('auth', undefined, env, file)).to.deep.equal({ value: 'file-key', source: 'file' });
      expect(resolveProp('namespace', undefined, {}, new Map())).to.deep.equal({ value: '_', source: 'default' });
      expect(resolveProp('auth', undefined, {}, new Map())).to.deep.equal({ source: 'default' });
    });

    it('WSK_CONFIG_FILE names the file (relative to the working directory), else ~/.wskprops', () => {
      expect(propsPath({ WSK_CONFIG_FILE: 'conf/props' }, '/work')).to.equal('/work/conf/props');
      expect(propsPath({ HOME: '/home/ann' }, '/work')).to.equal('/home/ann/.wskprops');
    });

    it('set and unset keep the other lines of the file, which only its owner can read', () => {
      const path = join(tmp(), 'wskprops');
      writeFileSync(path, '# mine\nAPIGW_ACCESS_TOKEN=tok\nAPIHOST=old\n');
      updatePropsFile(path, { apihost: 'new:3233', auth: 'u:k' });
      expect(readFileSync(path, 'utf8')).to.equal('# mine\nAPIGW_ACCESS_TOKEN=tok\nAPIHOST=new:3233\nAUTH=u:k\n');
      updatePropsFile(path, { apihost: undefined });
      expect(readFileSync(path, 'utf8')).to.equal('# mine\nAPIGW_ACCESS_TOKEN=tok\nAUTH=u:k\n');
      expect(readPropsFile(path).get('AUTH')).to.equal('u:k');
      expect(statSync(path).mode & 0o777).to.equal(0o600);
    });
  });

  describe('parameters', () => {
    it('-p KEY VALUE pairs survive parsing as one argument each; values are JSON when they parse', () => {
      const argv = joinPairs(['action', 'invoke', 'a', '-p', 'n', '3', '--param', 's', 'x y', '-a', 'o', '{"k":[1]}', '--', '-p', 'raw']);
      expect(argv.slice(0, 3)).to.deep.equal(['action', 'invoke', 'a']);
      expect(argv.at(-3)).to.equal('--');
      const pairs = [argv[4]!, argv[6]!, argv[8]!].reduce((acc, a) => collectPair(a, acc), [] as { key: string; value: unknown }[]);
      expect(pairs).to.deep.equal([
        { key: 'n', value: 3 },
        { key: 's', value: 'x y' },
        { key: 'o', value: { k: [1] } },
      ]);
      expect(parseValue('true')).to.equal(true);
      expect(parseValue('hello')).to.equal('hello');
      expect(() => collectPair('only-key')).to.throw(/key\/value pair/);
    });

    it('-P file values, overridden by -p; the file must hold a JSON object', () => {
      const dir = tmp();
      writeFileSync(join(dir, 'p.json'), '{"a":1,"b":2}');
      writeFileSync(join(dir, 'list.json'), '[1]');
      expect(keyValues([{ key: 'b', value: 3 }], 'p.json', dir)).to.deep.equal([
        { key: 'a', value: 1 },
        { key: 'b', value: 3 },
      ]);
      expect(keyValues(undefined, undefined, dir)).to.equal(undefined);
      expect(() => keyValues(undefined, 'list.json', dir)).to.throw(/must hold a JSON object/);
      expect(() => keyValues(undefined, 'missing.json', dir)).to.throw(/does not exist/);
    });

    it('a value or -P file nested deeper than the server accepts is a usage error here, not a crash or a string', () => {
      const deep = '['.repeat(200_000) + ']'.repeat(200_000);
      expect(() => collectPair(`p${'\u0000'}${deep}`)).to.throw(UsageError, /^The value '\[{40}…' is JSON nested more than 100 levels deep\.$/);
      const dir = tmp();
      writeFileSync(join(dir, 'deep.json'), `{"a":${deep}}`);
      expect(() => keyValues(undefined, 'deep.json', dir)).to.throw(UsageError, "Invalid JSON in 'deep.json': JSON nested more than 100 levels deep.");
    });
  });

  describe('artifacts', () => {
    const opts = (dir: string) => ({ cwd: dir, namespace: '_', update: false });

    it('the kind is told by the extension: .js → nodejs:default, .py → python:default; other files need --kind', () => {
      const dir = tmp();
      writeFileSync(join(dir, 'a.js'), 'function main() {}');
      writeFileSync(join(dir, 'a.py'), 'def main(a): return a');
      writeFileSync(join(dir, 'a.rb'), 'puts 1');
      expect(buildExec('a.js', { main: 'run' }, opts(dir))).to.deep.equal({ kind: 'nodejs:default', code: 'function main() {}', main: 'run' });
      expect(buildExec('a.py', {}, opts(dir))).to.include({ kind: 'python:default' });
      expect(() => buildExec('a.rb', {}, opts(dir))).to.throw(/Cannot tell the kind of 'a.rb'; use --kind/);
      expect(() => buildExec('a.js', { kind: 'ruby:3' }, opts(dir))).to.throw(/kind 'ruby:3' is not supported; supported kinds are nodejs:20, python:3/);
      expect(() => buildExec('nope.js', {}, opts(dir))).to.throw(/does not exist/);
    });

    it('a .zip is sent as base64 and needs --kind', () => {
      const dir = tmp();
      const zip = zipSync({ 'index.js': new TextEncoder().encode('exports.main = () => ({})') });
      writeFileSync(join(dir, 'a.zip'), zip);
      // wsk's words, and only the kinds a zip can run on (not blackbox or sequence)
      expect(() => buildExec('a.zip', {}, opts(dir))).to.throw(UsageError, /^creating an action from a \.zip artifact requires specifying the action kind explicitly: use --kind with one of nodejs:20, python:3, stdio\.$/);
      const exec = buildExec('a.zip', { kind: 'nodejs:20' }, opts(dir))!;
      expect(exec.kind).to.equal('nodejs:20');
      expect(Buffer.from(exec.code!, 'base64').equals(Buffer.from(zip))).to.equal(true);
    });

    it('a directory is zipped, keeping file modes, its kind told by its contents', () => {
      const dir = tmp();
      mkdirSync(join(dir, 'app/lib'), { recursive: true });
      mkdirSync(join(dir, 'app/.git'));
      writeFileSync(join(dir, 'app/package.json'), '{"main":"lib/x.js"}');
      writeFileSync(join(dir, 'app/lib/x.js'), 'exports.main = () => ({})');
      writeFileSync(join(dir, 'app/run.sh'), '#!/bin/sh\n');
      chmodSync(join(dir, 'app/run.sh'), 0o755);
      writeFileSync(join(dir, 'app/.git/HEAD'), 'ref');
      const exec = buildExec('app', {}, opts(dir))!;
      expect(exec.kind).to.equal('nodejs:default');
      const files = unzipSync(Buffer.from(exec.code!, 'base64'));
      expect(Object.keys(files).sort()).to.deep.equal(['lib/x.js', 'package.json', 'run.sh']);
      expect(strFromU8(files['lib/x.js']!)).to.equal('exports.main = () => ({})');
      // unzip -Z shows the mode fflate stored
      const listing = execFileSync('python3', ['-c', 'import sys,zipfile; [print(oct(i.external_attr>>16), i.filename) for i in zipfile.ZipFile(sys.argv[1]).infolist()]', writeZip(exec.code!)], { encoding: 'utf8' });
      expect(listing).to.match(/0o755 run\.sh/);
    });

    it('--native: kind stdio; a binary executable is zipped as exec', () => {
      const dir = tmp();
      writeFileSync(join(dir, 'tool'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
      writeFileSync(join(dir, 'tool.sh'), '#!/bin/sh\necho {}');
      expect(buildExec('tool.sh', { native: true }, opts(dir))).to.deep.equal({ kind: 'stdio', code: '#!/bin/sh\necho {}' });
      const exec = buildExec('tool', { native: true }, opts(dir))!;
      expect(Object.keys(unzipSync(Buffer.from(exec.code!, 'base64')))).to.deep.equal(['exec']);
      expect(() => buildExec('tool', {}, opts(dir))).to.throw(/neither source text nor a zip/);
    });

    it('--sequence qualifies its components; --docker makes a blackbox; the kinds of flags exclude each other', () => {
      const dir = tmp();
      expect(buildExec(undefined, { sequence: 'a, pkg/b,/other/c' }, opts(dir))).to.deep.equal({ kind: 'sequence', components: ['/_/a', '/_/pkg/b', '/other/c'] });
      expect(buildExec(undefined, { docker: 'me/img:1', main: 'x' }, opts(dir))).to.deep.equal({ kind: 'blackbox', image: 'me/img:1', main: 'x' });
      expect(() => buildExec(undefined, { docker: 'i', sequence: 'a' }, opts(dir))).to.throw(/Use only one of --sequence, --docker/);
      expect(() => buildExec('x.js', { sequence: 'a' }, opts(dir))).to.throw(/Do not give an artifact with --sequence/);
      expect(() => buildExec(undefined, {}, opts(dir))).to.throw(/An action name and code artifact are required/);
      expect(buildExec(undefined, {}, { ...opts(dir), update: true })).to.equal(undefined);
      expect(() => buildExec(undefined, { kind: 'nodejs:20' }, { ...opts(dir), update: true })).to.throw(/code artifact are required/);
    });
  });

  describe('names, URLs and keys', () => {
    it('wsk names: a trigger, rule or package cannot be in a package', () => {
      expect(qualify('/guest/pkg/a', '_')).to.deep.equal({ namespace: 'guest', pkg: 'pkg', name: 'a' });
      expect(() => qualify('pkg/t', '_', 'triggers')).to.throw(/A trigger cannot be inside a package/);
    });

    it('the API host: a URL as given; host:port is https, except on loopback', () => {
      expect(apiBase('https://whisk.example.com/api/v1/')).to.equal('https://whisk.example.com');
      expect(apiBase('whisk.example.com')).to.equal('https://whisk.example.com');
      expect(apiBase('localhost:3233')).to.equal('http://localhost:3233');
      expect(apiBase('127.0.0.1:3233')).to.equal('http://127.0.0.1:3233');
      // the scheme the API host names is kept (as the URLs `action get --url` prints); loopback on 443 is https
      expect(apiBase('HTTPS://localhost:3233')).to.equal('https://localhost:3233');
      expect(apiBase('localhost:443')).to.equal('https://localhost:443');
      expect(apiBase('http://whisk.example.com:8080/api')).to.equal('http://whisk.example.com:8080');
    });

    it('a key is sent as Basic, a token as Bearer', () => {
      expect(authorization('u:k')).to.equal('Basic ' + Buffer.from('u:k').toString('base64'));
      expect(authorization('eyJ.a.b')).to.equal('Bearer eyJ.a.b');
    });
  });

  describe('output', () => {
    it('entity rows: name padded to 70, visibility, kind (actions) or status (rules), version', () => {
      const base = { version: '0.0.2', annotations: [], updated: 0 };
      const rows = entityRows('action', [
        { ...base, namespace: 'guest', name: 'a', publish: false, annotations: [{ key: 'exec', value: 'nodejs:20' }] },
        { ...base, namespace: 'guest/p', name: 'b', publish: true, annotations: [{ key: 'exec', value: 'sequence' }] },
      ]);
      expect(rows).to.deep.equal([`/guest/a${' '.repeat(62)} private nodejs:20 0.0.2`, `/guest/p/b${' '.repeat(60)} shared  sequence  0.0.2`]);
      expect(entityRows('trigger', [{ ...base, namespace: 'g', name: 't', publish: false }])).to.deep.equal([`/g/t${' '.repeat(66)} private 0.0.2`]);
    });

    it('durations and middle truncation as wsk prints them', () => {
      expect(duration(34)).to.equal('34ms');
      expect(duration(1500)).to.equal('1.5s');
      expect(truncate('abcdefghijklmnopqrstuvwxyz', 11)).to.equal('abcd...wxyz');
      expect(truncate('short', 11)).to.equal('short');
    });

    it('colours only on a terminal (or with FORCE_COLOR), never with NO_COLOR', async () => {
      const tty = capture(true);
      new Cli({ stdout: tty, stderr: capture(), env: {}, cwd: '/' }).out.ok('done');
      expect(tty.text()).to.equal('\u001b[32mok:\u001b[39m done\n');
      const pipe = capture(false);
      new Cli({ stdout: pipe, stderr: capture(), env: {}, cwd: '/' }).out.ok('done');
      expect(pipe.text()).to.equal('ok: done\n');
      const forced = await swirlInProcess(['property', 'set', '--namespace', 'x'], { FORCE_COLOR: '1' });
      expect(forced.stdout).to.contain('\u001b[32mok:');
      const off = capture(true);
      new Cli({ stdout: off, stderr: capture(), env: { NO_COLOR: '1' }, cwd: '/' }).out.ok('done');
      expect(off.text()).to.equal('ok: done\n');
    });

    it('a spinner on an interactive stderr only, cleared when the work is done', async () => {
      const frames: string[] = [];
      const tty = Object.assign(capture(true), { cursorTo: () => true, moveCursor: () => true, clearLine: () => frames.push('<clear>') });
      const cli = new Cli({ stdout: capture(), stderr: tty, env: {}, cwd: '/' });
      // yocto-spinner also reads the process's own CI variable (set when this suite runs in CI)
      const ciVar = process.env.CI;
      delete process.env.CI;
      const value = await cli.spin('uploading hello', () => new Promise((ok) => setTimeout(() => ok(42), 250))).finally(() => {
        if (ciVar !== undefined) process.env.CI = ciVar;
      });
      expect(value).to.equal(42);
      expect(tty.text()).to.contain('uploading hello');
      expect(frames).to.include('<clear>');
      const pipe = capture(false);
      await new Cli({ stdout: capture(), stderr: pipe, env: {}, cwd: '/' }).spin('quiet', async () => 1);
      const ci = Object.assign(capture(true), { cursorTo: () => true, moveCursor: () => true, clearLine: () => true });
      await new Cli({ stdout: capture(), stderr: ci, env: { CI: 'true' }, cwd: '/' }).spin('quiet', async () => 1);
      expect(pipe.text() + ci.text()).to.equal('');
    });
  });

  describe('command line', () => {
    it('usage errors exit 2 and point at the help; `swirl` alone prints the help and exits 0', async () => {
      const bad = await swirlInProcess(['action', 'create'], {});
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.equal("error: missing required argument 'name'\nRun 'swirl action create --help' for usage.\n");
      const opt = await swirlInProcess(['action', 'list', '--bogus'], {});
      expect(opt.code).to.equal(2);
      expect(opt.stderr).to.match(/^error: unknown option '--bogus'/);
      const bare = await swirlInProcess([], {});
      expect(bare.code).to.equal(0);
      expect(bare.stderr + bare.stdout).to.match(/Usage: swirl \[options\] \[command\]/);
      const help = await swirlInProcess(['help', 'rule'], {});
      expect(help.code).to.equal(0);
      expect(help.stdout).to.match(/^Usage: swirl rule \[options\] \[command\]/);
      const group = await swirlInProcess(['rule'], {});
      expect(group.code).to.equal(2);
      expect(group.stderr).to.match(/^Usage: swirl rule/);
    });

    it('a bad limit is refused before anything is sent', async () => {
      const r = await swirlInProcess(['action', 'create', 'a', 'a.js', '-m', '9999'], { __OW_API_HOST: '127.0.0.1:1', __OW_API_KEY: 'u:k' });
      expect(r).to.deep.include({ code: 2, stderr: 'error: memory 9999 MB exceeds allowed threshold of 512 MB.\n' });
    });

    it('without an API host or key the error says how to set them', async () => {
      const noHost = await swirlInProcess(['action', 'list'], {});
      expect(noHost).to.deep.include({ code: 1, stderr: "error: The API host is not set. Set it with 'swirl property set --apihost HOST', the --apihost flag or __OW_API_HOST.\n" });
      const noKey = await swirlInProcess(['action', 'list', '--apihost', 'localhost:1'], {});
      expect(noKey.stderr).to.match(/^error: The API key is not set\. Set it with 'swirl property set --auth KEY'/);
    });

    it('an unreachable API host: a network error, exit 3', async () => {
      const r = await swirlInProcess(['namespace', 'list'], { __OW_API_HOST: '127.0.0.1:1', __OW_API_KEY: 'u:k' });
      expect(r.code).to.equal(3);
      expect(r.stderr).to.match(/^error: Unable to get the list of namespaces: cannot reach http:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);
    });
  });

  describe('shell completion', () => {
    /** Complete `line` (the cursor at its end) with the generated bash script, as bash does on TAB. */
    async function completeBash(line: string): Promise<string[]> {
      const { stdout: script } = await swirlInProcess(['completion', 'bash'], {});
      const dir = tmp();
      writeFileSync(join(dir, 'c.bash'), script);
      const words = line.split(' ');
      const out = execFileSync('bash', ['--norc', '-c', `source c.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _swirl_completion; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: dir, encoding: 'utf8' });
      return out.split('\n').filter(Boolean);
    }

    it('bash: commands, subcommands and options from the command tree', async () => {
      expect(await completeBash('swirl ac')).to.deep.equal(['action', 'activation']);
      expect(await completeBash('swirl action cr')).to.deep.equal(['create']);
      expect(await completeBash('swirl -v rule ')).to.include.members(['create', 'enable', 'disable', 'status']);
      expect(await completeBash('swirl action create hello --k')).to.deep.equal(['--kind', '--key']);
      expect(await completeBash('swirl action invoke x --')).to.include.members(['--blocking', '--result', '--param', '--apihost', '--json', '--debug', '--apiversion', '--cert', '--key']);
      // wsk's flags the CLI gained: each command offers its own
      expect(await completeBash('swirl action create x --')).to.include.members(['--copy', '--web-secure']).and.not.include('--del-annotation');
      expect(await completeBash('swirl action update x --d')).to.include.members(['--del-annotation', '--docker', '--debug']);
      for (const group of ['trigger', 'rule', 'package']) expect(await completeBash(`swirl ${group} get x --s`)).to.deep.equal(['--summary']);
    });

    it('zsh: the script completes the same tree (zsh required in CI)', async function () {
      const { stdout: script, code } = await swirlInProcess(['completion', 'zsh'], {});
      expect(code).to.equal(0);
      expect(script).to.match(/^#compdef swirl\n/);
      expect(await swirlInProcess(['completion', 'fish'], {})).to.deep.include({ code: 2, stderr: "error: No completion for 'fish': use bash or zsh.\n" });
      try {
        execFileSync('zsh', ['--version']);
      } catch (e) {
        // CI installs zsh; only a developer machine without it skips
        if (process.env.CI) throw new Error('zsh is required in CI', { cause: e });
        return this.skip();
      }
      const dir = tmp();
      writeFileSync(join(dir, '_swirl'), script);
      // zsh's completion system needs a terminal; stand-ins for _describe and _files print what would be offered
      const complete = (words: string[]) =>
        execFileSync('zsh', ['-f', '-c', `compdef() {}; _describe() { local name=\${@[-1]}; print -rl -- \${(P)name} }; _files() { print FILES }; source ./_swirl; words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _swirl`], { cwd: dir, encoding: 'utf8' }).split('\n').filter(Boolean);
      expect(complete(['swirl', '-v', 'action', 'cr'])).to.include('create:create a new action');
      expect(complete(['swirl', 'action', 'create', 'x', '--ki'])).to.include.members(['--kind:the runtime: nodejs:20, python:3, stdio, blackbox, sequence, hub (or nodejs:default, python:default); told from a .js/.py file']);
      expect(complete(['swirl', 'action', 'create', 'x', 'y'])).to.deep.equal(['FILES']);
    });
  });
});

function writeZip(base64: string): string {
  const path = join(tmp(), 'a.zip');
  writeFileSync(path, Buffer.from(base64, 'base64'));
  return path;
}
