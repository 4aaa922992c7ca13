import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Files only swirl's own user may read: the data directory (0700) and what it holds (0600) —
 * the embedded store's files, the generated keys, the marker of a running server. The
 * directory's mode is what keeps other local users out; the files' modes are there for
 * copies made of them (a backup, `cp -r`) and for installs whose directory was once open.
 */

/** What every swirl process calls first: whatever it creates is its user's alone, unless it says otherwise. */
export function privateByDefault(): void {
  process.umask(0o077);
}

/**
 * A file whose presence keeps the modes of its directory and of what is under it as they
 * are: copies of this host's public files that an unprivileged user must read and run (the
 * sandboxes' root filesystems), kept inside the private data directory.
 */
export const KEEP_MODES = '.keep-modes';

/**
 * Create `dir` (and missing parents) as 0700, and make what is already in it private:
 * directories 0700, files 0600 (but under a KEEP_MODES marker). Older installs made them
 * world-readable; the pass repairs them on every start, LevelDB's files included. Symbolic
 * links are not followed.
 */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  restrict(dir);
}

function restrict(dir: string): void {
  if (existsSync(join(dir, KEEP_MODES))) return;
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) restrict(path);
    else if (entry.isFile()) chmodSync(path, 0o600);
  }
}

/**
 * Write a file only its owner can read, atomically (a reader never sees half of it): a
 * temporary file created 0600, then renamed over `path`. The directory is created private
 * when missing.
 */
export function writePrivateFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600); // the mode of openSync is masked by the umask; this is not
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The content of a file, or undefined when there is none. */
export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
