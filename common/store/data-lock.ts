import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { processState, selfProcess } from '../process-identity.ts';
import { writePrivateFile } from '../private-files.ts';

/**
 * One swirl at a time on a data directory's embedded store: LevelDB allows one process, and
 * a second one met its lock deep inside PouchDB (stack traces, then "try again later").
 * `<dataDir>/swirl.lock` (0600) names the holder — its pid, and its API once it listens —
 * so that another is refused at once with a message that says who holds it. The holder is
 * named with its start time (common/process-identity.ts), so a lock left by a dead swirl is
 * taken over even when its pid now belongs to another process. One whose liveness cannot
 * be told from here (another pid namespace: the same volume in a restarted container) is
 * taken over too; LevelDB's own lock still keeps two live ones apart.
 */
const LOCK_FILE = 'swirl.lock';

interface Holder {
  pid: number;
  /** The holder as common/process-identity.ts names it. */
  process?: string;
  api?: string;
}

export class DataDirInUseError extends Error {}

const readHolder = (path: string): Holder | undefined => {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Holder;
    return Number.isInteger(h.pid) ? h : undefined;
  } catch {
    return undefined;
  }
};

export interface DataDirLock {
  /** Name the API this process serves, for the message another one gets. */
  noteApi(url: string): void;
  release(): void;
}

/** Take the data directory, or throw a DataDirInUseError naming the live swirl that holds it (a dead one's lock is taken over). */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  const path = join(dir, LOCK_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mine: Holder = { pid: process.pid, process: selfProcess() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600); // atomic: one of two starting at once wins
      writeSync(fd, JSON.stringify(mine) + '\n');
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const holder = readHolder(path);
      if (holder?.process && holder.pid !== process.pid && processState(holder.process) === 'alive')
        throw new DataDirInUseError(
          `another swirl (pid ${holder.pid}${holder.api ? `, API ${holder.api}` : ''}) holds the data directory ${dir}: stop it, or give this one a data directory of its own (SWIRL_DATA_DIR)`,
        );
      rmSync(path, { force: true }); // left by a swirl that is gone
    }
  }
  let held = true;
  return {
    noteApi(url) {
      if (held) writePrivateFile(path, JSON.stringify({ ...mine, api: url }) + '\n');
    },
    release() {
      if (!held) return;
      held = false;
      if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}
