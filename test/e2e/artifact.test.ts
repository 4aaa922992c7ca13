import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { freePort, run, type Spawned } from '../support/process.ts';
import { cleanEnv } from '../support/cli.ts';

const CHECKOUT = resolve(import.meta.dirname, '../..');
/** What the processes are built from, and how (no tests, no earlier build, no data). */
const COPIED = ['package.json', 'tsconfig.json', 'build', 'bin', 'common', 'controller', 'loadbalancer', 'invoker', 'runtimes', 'cli'];

/**
 * `npm start` and `swirl` as a person runs them from a checkout: from the bundles in dist/,
 * built when missing and again when a source changed, with no build step of their own.
 * In a copy of the checkout, so that its sources can be changed.
 */
describe('the built artifact (npm start, swirl)', function () {
  this.timeout(90_000);
  let root: string;
  let server: Spawned | undefined;

  const edit = (file: string, from: string | RegExp, to: string) => {
    const path = join(root, file);
    const text = readFileSync(path, 'utf8');
    const changed = text.replace(from, to);
    expect(changed, `${file} has ${String(from)}`).to.not.equal(text);
    writeFileSync(path, changed);
  };
  const swirl = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((ok) => {
      execFile(process.execPath, [join(root, 'bin', 'swirl.js'), ...args], { env: cleanEnv(env), cwd: root }, (err, stdout, stderr) => ok({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
    });
  const BUILDING = /^swirl: building dist\/ from the sources/m;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'swirl-artifact-'));
    for (const item of COPIED) cpSync(join(CHECKOUT, item), join(root, item), { recursive: true, filter: (src) => !/(^|\/)(dist|\.swirl)(\/|$)/.test(relative(CHECKOUT, src)) });
    symlinkSync(join(CHECKOUT, 'node_modules'), join(root, 'node_modules'));
  });
  afterEach(async () => {
    server?.kill('SIGTERM');
    await server?.exited;
    server = undefined;
  });
  after(() => server?.killGroup('SIGKILL'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('swirl builds dist/ on its first run, runs from it without building again, and picks up a changed source on the next run', async () => {
    const first = await swirl(['--version']);
    expect(first).to.include({ code: 0, stdout: '0.1.0\n' });
    expect(first.stderr).to.match(BUILDING);
    expect(existsSync(join(root, 'dist', 'swirl.js'))).to.equal(true);

    const again = await swirl(['--version']);
    expect(again).to.deep.equal({ code: 0, stdout: '0.1.0\n', stderr: '' });

    edit('cli/version.ts', /\.version;$/m, `.version + '-changed';`);
    const changed = await swirl(['--version']);
    expect(changed.stdout).to.equal('0.1.0-changed\n');
    expect(changed.stderr).to.match(BUILDING);
    expect((await swirl(['--version'])).stderr).to.equal('');
  });

  it('a stack trace from the built CLI names the TypeScript source and line', async () => {
    const lines = readFileSync(join(root, 'cli/version.ts'), 'utf8').split('\n').length;
    writeFileSync(join(root, 'cli/version.ts'), `${readFileSync(join(root, 'cli/version.ts'), 'utf8').trimEnd()}\nif (process.env.SWIRL_TEST_THROW) throw new Error('thrown by the source');\n`);
    const thrown = await swirl(['--version'], { SWIRL_TEST_THROW: '1' });
    expect(thrown.code).to.not.equal(0);
    expect(thrown.stderr).to.contain('thrown by the source');
    expect(thrown.stderr).to.contain(`${join(root, 'cli', 'version.ts')}:${lines}:`);
  });

  it('a source that does not build: swirl says where, exits 1 and runs nothing; once it is fixed the next run builds', async () => {
    const good = readFileSync(join(root, 'cli/version.ts'), 'utf8');
    writeFileSync(join(root, 'cli/version.ts'), `${good}\nexport const broken = ;\n`);
    const failed = await swirl(['--version']);
    expect(failed.code).to.equal(1);
    expect(failed.stdout).to.equal('');
    expect(failed.stderr).to.match(BUILDING);
    expect(failed.stderr).to.match(/^swirl: the build of dist\/ failed: .*\ncli\/version\.ts:\d+:\d+: ERROR: /m);
    expect(failed.stderr).to.not.match(/\n\s+at /);
    writeFileSync(join(root, 'cli/version.ts'), good);
    expect(await swirl(['--version'])).to.deep.include({ code: 0 });
  });

  it('npm start runs dist/standalone.js, rebuilt when a source changed since the last start', async () => {
    edit('controller/standalone.ts', 'announce(`swirl standalone is up', 'announce(`swirl standalone (as changed) is up');
    const dataDir = mkdtempSync(join(tmpdir(), 'swirl-artifact-data-'));
    try {
      const started = Date.now();
      server = run('npm', ['start'], { SWIRL_DATA_DIR: dataDir, SWIRL_PORT: String(await freePort()), SWIRL_HOST: '127.0.0.1', SWIRL_CONTAINER_FACTORY: 'process', SWIRL_PREWARM: '[]', SWIRL_LOG_LEVEL: 'warn' }, root);
      await server.waitFor(/swirl standalone \(as changed\) is up/);
      expect(server.stderr()).to.match(BUILDING);
      expect(statSync(join(root, 'dist', 'standalone.js')).mtimeMs).to.be.at.least(started - 1000);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
