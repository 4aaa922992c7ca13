import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cleanEnv, SWIRL_BIN } from './cli.ts';

const exec = promisify(execFile);

/**
 * A shell in a real terminal (tmux, on a server of its own), with `swirl` on its PATH as
 * npm links a package's bin: for typing commands and reading the screen as a user sees it.
 */
export class Terminal {
  private readonly socket = `swirl-e2e-${process.pid}-${Date.now()}`;
  private readonly session = 'cli';

  private constructor(private readonly bin: string) {}

  static async open(env: Record<string, string>): Promise<Terminal> {
    const bin = mkdtempSync(join(tmpdir(), 'swirl-bin-'));
    symlinkSync(SWIRL_BIN, join(bin, 'swirl'));
    const t = new Terminal(bin);
    const shellEnv = cleanEnv({ ...env, PATH: `${bin}:${process.env.PATH}`, PS1: '$ ' });
    await exec('tmux', ['-L', t.socket, '-f', '/dev/null', 'new-session', '-d', '-s', t.session, '-x', '160', '-y', '50', 'bash --norc --noprofile'], { env: shellEnv });
    return t;
  }

  /** Type a line and press Enter. */
  async type(line: string): Promise<void> {
    await exec('tmux', ['-L', this.socket, 'send-keys', '-t', this.session, '-l', line]);
    await exec('tmux', ['-L', this.socket, 'send-keys', '-t', this.session, 'Enter']);
  }

  /** The screen and its scrollback; with `escapes`, the colours as escape sequences. */
  async screen(escapes = false): Promise<string> {
    const { stdout } = await exec('tmux', ['-L', this.socket, 'capture-pane', '-p', '-J', '-S', '-', ...(escapes ? ['-e'] : []), '-t', this.session]);
    return stdout;
  }

  /** Wait until the screen matches `re`. */
  async waitFor(re: RegExp, ms = 15_000): Promise<string> {
    const until = Date.now() + ms;
    for (;;) {
      const text = await this.screen();
      if (re.test(text)) return text;
      if (Date.now() > until) throw new Error(`timed out waiting for ${re} on the screen:\n${text}`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }

  async close(): Promise<void> {
    await exec('tmux', ['-L', this.socket, 'kill-server']).catch(() => undefined);
    rmSync(this.bin, { recursive: true, force: true });
  }
}
