import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDataDir } from '../../common/store/data-lock.ts';
import { selfProcess, startTime } from '../../common/process-identity.ts';

describe('data directory lock', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'swirl-lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const holdAs = (holder: object) => writeFileSync(join(dir, 'swirl.lock'), JSON.stringify(holder));

  it('refuses a data directory a live swirl holds, naming its pid and API', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await new Promise((ok) => other.once('spawn', ok));
      const name = selfProcess().replace(/:\d+:\d+$/, `:${other.pid}:${startTime(other.pid!)}`);
      holdAs({ pid: other.pid, process: name, api: 'http://127.0.0.1:3244/api/v1' });
      expect(() => lockDataDir(dir)).to.throw(`another swirl (pid ${other.pid}, API http://127.0.0.1:3244/api/v1) holds the data directory ${dir}`);
    } finally {
      other.kill();
    }
  });

  it('takes over the lock of a swirl that is gone, even when its pid now belongs to a live process', () => {
    // pid 1 is alive, but did not start at that tick of this boot: not the holder
    holdAs({ pid: 1, process: selfProcess().replace(/:\d+:\d+$/, ':1:999999999999') });
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(join(dir, 'swirl.lock'), 'utf8')).pid).to.equal(process.pid);
    lock.release();
  });

  it('takes over the lock of a swirl killed but not yet reaped (a zombie holds nothing)', async () => {
    // the holder's parent never reaps it: `sleep 60` exec'd in its place by the shell that started it
    const parent = spawn('sh', ['-c', 'sleep 30 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((ok) => parent.stdout.once('data', (d: Buffer) => ok(d.toString()))));
      const name = selfProcess().replace(/:\d+:\d+$/, `:${pid}:${startTime(pid)}`);
      // killed only once the shell is `sleep 60`: the shell itself would reap it
      for (let i = 0; i < 200 && readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim() !== 'sleep'; i++) await new Promise((ok) => setTimeout(ok, 5));
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) await new Promise((ok) => setTimeout(ok, 10));
      expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).to.match(/\) Z /);
      holdAs({ pid, process: name });
      lockDataDir(dir).release();
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
