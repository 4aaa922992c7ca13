import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Ran, runTool } from './deploy.ts';

/**
 * Another local user of the machine, unprivileged, to try what swirl's files and ports give
 * away. Tests run as root (CI): the user `swirl-stranger` is made once with useradd. Not
 * root: the suite is skipped (it fails in CI, where every test is required).
 */
export const STRANGER = 'swirl-stranger';

const exec = promisify(execFile);

/** Make sure the user exists; skips (or fails in CI) when this process cannot make one. */
export async function ensureStranger(ctx: Mocha.Context): Promise<void> {
  if (process.getuid?.() !== 0) {
    if (process.env.CI) throw new Error('the tests with another local user run as root in CI');
    console.warn('      skipped: not root, so no other local user can be made');
    ctx.skip();
  }
  const known = await exec('id', ['-u', STRANGER]).then(
    () => true,
    () => false,
  );
  if (!known) await exec('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', STRANGER]);
}

/** Run a command as the stranger (runuser, no shell); never throws for a non-zero exit. */
export const asStranger = (cmd: string, args: string[]): Promise<Ran> => runTool('runuser', ['-u', STRANGER, '--', cmd, ...args], { ms: 30_000 });

/**
 * A directory the stranger may enter (0755), for a data directory inside it: mkdtemp's own
 * 0700 would keep the stranger out whatever swirl does.
 */
export function openParent(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** An HTTP status as the stranger's curl gets it (000: no answer). */
export async function strangerStatus(method: string, url: string, body?: string, headers: string[] = []): Promise<string> {
  const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', method, ...headers.flatMap((h) => ['-H', h]), ...(body ? ['-H', 'content-type: application/json', '--data', body] : []), url];
  return (await asStranger('curl', args)).stdout.trim();
}
