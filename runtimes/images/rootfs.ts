import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { TarEntry } from './tar.ts';

/**
 * A root filesystem assembled from this host's files, for a base image made by
 * `docker import` where no base image can be pulled. Paths mirror the host's (symbolic
 * links included, so Debian's merged /usr layout survives), every program comes with the
 * libraries `ldd` lists and the dynamic loader.
 */
export class RootfsPlan {
  private readonly entries = new Map<string, TarEntry>();
  private readonly mtime = Date.now();

  /** Add a host path (file, directory entry or symlink chain) at the same place. */
  addHost(hostPath: string, depth = 0): void {
    if (depth > 40) throw new Error(`too many symbolic links at ${hostPath}`);
    const parts = hostPath.split('/').filter(Boolean);
    let at = '/';
    for (let i = 0; i < parts.length; i++) {
      const next = posix.join(at, parts[i]!);
      const st = lstatSync(next);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(next);
        this.put({ type: 'symlink', path: next.slice(1), target, mtime: st.mtimeMs });
        // go on from where the link points, with the rest of the path
        return this.addHost(posix.join(posix.resolve(at, target), ...parts.slice(i + 1)), depth + 1);
      }
      if (i === parts.length - 1) {
        if (st.isDirectory()) this.put({ type: 'dir', path: next.slice(1), mode: st.mode, mtime: st.mtimeMs });
        else if (st.isFile()) this.put({ type: 'file', path: next.slice(1), mode: st.mode, mtime: st.mtimeMs, size: st.size, source: next });
      } else if (!this.entries.has(next.slice(1))) {
        this.put({ type: 'dir', path: next.slice(1), mode: st.mode, mtime: st.mtimeMs });
      }
      at = next;
    }
  }

  /** Add a host file at another path (its symlinks resolved): e.g. the running node as /usr/local/bin/node. */
  addHostAs(hostPath: string, dest: string): void {
    const real = realpathSync(hostPath);
    const st = lstatSync(real);
    this.dirs(dest);
    this.put({ type: 'file', path: dest.replace(/^\//, ''), mode: st.mode, mtime: st.mtimeMs, size: st.size, source: real });
  }

  /** Add a directory tree; `skip(relativePath)` leaves out an entry (and what is under it). */
  addTree(hostDir: string, skip: (rel: string) => boolean): void {
    this.addHost(hostDir);
    this.walk(realpathSync(hostDir), skip, (path, st) => {
      if (!st.isSymbolicLink()) this.put(entryAt(path.slice(1), path, st));
      else if (existsSync(path)) this.addHost(path); // a link and what it points to; dangling links are left out
    });
  }

  /** Add a directory tree at another path (e.g. a source tree as `app/`), symbolic links kept as they are. */
  addTreeAs(hostDir: string, dest: string, skip: (rel: string) => boolean = () => false): void {
    const at = dest.replace(/^\//, '');
    this.addDir(at, lstatSync(realpathSync(hostDir)).mode);
    this.walk(realpathSync(hostDir), skip, (path, st, rel) => {
      if (st.isSymbolicLink()) this.put({ type: 'symlink', path: posix.join(at, rel), target: readlinkSync(path), mtime: st.mtimeMs });
      else this.put(entryAt(posix.join(at, rel), path, st));
    });
  }

  /** Visit what is under `dir` (directories before what they hold), leaving out what `skip` names. */
  private walk(dir: string, skip: (rel: string) => boolean, visit: (path: string, st: Stats, rel: string) => void, rel = ''): void {
    for (const name of readdirSync(dir).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (skip(childRel)) continue;
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) {
        visit(path, st, childRel);
        this.walk(path, skip, visit, childRel);
      } else if (st.isFile() || st.isSymbolicLink()) visit(path, st, childRel);
    }
  }

  /** Add programs (or shared objects) and every library they load, with the loader. */
  addPrograms(paths: string[]): void {
    for (const p of paths) this.addHost(p);
    this.addLibrariesOf(paths);
  }

  /** Add the libraries these files load, with the loader. */
  addLibrariesOf(paths: string[]): void {
    for (const lib of sharedLibraries(paths.map((p) => realpathSync(p)))) this.addHost(lib);
  }

  addFile(dest: string, content: string | Buffer, mode = 0o644): void {
    this.dirs(dest);
    this.put({ type: 'file', path: dest.replace(/^\//, ''), mode, mtime: this.mtime, data: Buffer.from(content) });
  }

  addDir(dest: string, mode: number): void {
    this.dirs(dest);
    this.put({ type: 'dir', path: dest.replace(/^\//, ''), mode, mtime: this.mtime });
  }

  /** Parent directories of a path, where missing. */
  private dirs(dest: string): void {
    let dir = dirname(dest.replace(/^\//, ''));
    const missing: string[] = [];
    while (dir !== '.' && dir !== '/' && !this.entries.has(dir)) {
      missing.unshift(dir);
      dir = dirname(dir);
    }
    for (const d of missing) this.put({ type: 'dir', path: d, mode: 0o755, mtime: this.mtime });
  }

  private put(entry: TarEntry): void {
    if (!this.entries.has(entry.path)) this.entries.set(entry.path, entry);
  }

  /** Entries in archive order (a directory before what it holds). */
  list(): TarEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Identity of the content: paths, types, modes, sizes and times of the host files. */
  fingerprint(): string {
    const h = createHash('sha256');
    for (const e of this.list()) {
      const what = e.type === 'symlink' ? e.target : e.type === 'dir' ? '' : 'data' in e ? e.data.toString('base64') : `${e.size}:${Math.floor(e.mtime)}`;
      h.update(`${e.type} ${e.path} ${e.type === 'symlink' ? '' : e.mode} ${what}\n`);
    }
    return h.digest('hex').slice(0, 16);
  }
}

/** The archive entry of a host directory or file, at `path`. */
function entryAt(path: string, source: string, st: Stats): TarEntry {
  return st.isDirectory() ? { type: 'dir', path, mode: st.mode, mtime: st.mtimeMs } : { type: 'file', path, mode: st.mode, mtime: st.mtimeMs, size: st.size, source };
}

/** The libraries (and the dynamic loader) that `ldd` lists for these files. */
export function sharedLibraries(files: string[]): string[] {
  if (files.length === 0) return [];
  let out: string;
  try {
    out = execFileSync('ldd', files, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // ldd exits non-zero when one of the files is static; its stdout still lists the rest
    out = String((e as { stdout?: unknown }).stdout ?? '');
    if (!out) throw new Error(`ldd failed: ${(e as Error).message}`, { cause: e });
  }
  const missing = out.split('\n').filter((l) => l.includes('=> not found'));
  if (missing.length) throw new Error(`missing shared libraries: ${missing.map((l) => l.trim()).join(', ')}`);
  const libs = new Set<string>();
  for (const m of out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)) libs.add(m[1]!);
  return [...libs].sort();
}
