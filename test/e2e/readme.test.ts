import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_NETWORK } from '../support/invoker-fixtures.ts';
import { cleanEnv, SWIRL_BIN } from '../support/cli.ts';
import { freePort, run, type Spawned } from '../support/process.ts';

const README = resolve(import.meta.dirname, '../../README.md');

/** The `sh` code blocks of a README section (`## Title`), up to its next heading of level 2 or 3. */
export function shellBlocks(markdown: string, title: string): string[] {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no section '## ${title}'`);
  const rest = markdown.slice(start + title.length + 5);
  const end = rest.search(/\n##+ /);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/**
 * The README's first steps, run as a reader would: a second terminal in a folder whose
 * `.swirl/data` is the server's data directory, `swirl` on the PATH (what `npm link` does),
 * and the blocks pasted in order into one bash, stopping at the first failing command.
 */
describe('the README', function () {
  this.timeout(180_000);
  let home: string;
  let server: Spawned | undefined;

  before(() => {
    home = mkdtempSync(join(tmpdir(), 'swirl-readme-'));
  });
  after(async () => {
    server?.kill('SIGTERM');
    await server?.exited;
    rmSync(home, { recursive: true, force: true });
  });

  it('first steps and the CLI section run top to bottom against npm start, with the results they show', async () => {
    const markdown = readFileSync(README, 'utf8');
    const blocks = [...shellBlocks(markdown, 'First steps'), shellBlocks(markdown, 'The swirl CLI')[0]!];
    expect(blocks).to.have.length(3);
    const port = await freePort();
    // `npm install`, `npm start` and `npm link` are this test's part: the server below, and `swirl` on PATH
    const script = blocks
      .join('\n')
      .split('\n')
      .filter((line) => !/^npm /.test(line))
      .join('\n')
      .replaceAll('localhost:3233', `localhost:${port}`);
    expect(script).to.not.contain('3233');

    server = run('npm', ['start'], {
      SWIRL_DATA_DIR: join(home, '.swirl', 'data'),
      SWIRL_PORT: String(port),
      SWIRL_INVOKER_ID: String(1000 + Math.floor(Math.random() * 9000)),
      SWIRL_DOCKER_NETWORK: TEST_NETWORK,
    });
    await server.waitFor(/api: (\S+)/, 120_000);

    const bin = join(home, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'swirl'), `#!/bin/sh\nexec ${JSON.stringify(SWIRL_BIN)} "$@"\n`);
    chmodSync(join(bin, 'swirl'), 0o755);
    const env = cleanEnv({ HOME: home, PATH: `${bin}:${process.env.PATH}` });
    const shell = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    shell.stdout.on('data', (d: Buffer) => (out += d.toString()));
    shell.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((ok) => shell.once('close', ok));
    const shown = `\nstdout:\n${out}\nstderr:\n${err}`;
    expect(code, shown).to.equal(0);
    // what the comments beside the commands say they print
    expect(out, shown).to.contain('{"greeting":"hello ann"}');
    expect(out, shown).to.contain('ok: created action greet');
    expect(out, shown).to.match(/"greeting": "hello Ann"/);
    expect(out, shown).to.contain('ok: updated action greet');
    expect(out, shown).to.match(/"greeting": "hello World"/);
    expect(out, shown).to.not.match(/"error"/);
    // the wsk properties went where the reader's would: their home
    expect(readFileSync(join(home, '.wskprops'), 'utf8')).to.contain(`APIHOST=localhost:${port}`);
  });
});
