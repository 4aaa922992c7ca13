import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

/** One entry of a tar archive: owned by root, with exactly the mode given. */
export type TarEntry =
  | { type: 'file'; path: string; mode: number; mtime: number; size: number; source: string }
  | { type: 'file'; path: string; mode: number; mtime: number; data: Buffer }
  | { type: 'dir'; path: string; mode: number; mtime: number }
  | { type: 'symlink'; path: string; target: string; mtime: number };

const BLOCK = 512;

function octal(buf: Buffer, value: number, offset: number, length: number): void {
  buf.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'ascii');
}

/** Split a path into ustar's prefix (≤ 155) and name (≤ 100) at a slash. */
function splitPath(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`path too long for a tar header: ${path}`);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const [prefix, name] = splitPath(entry.type === 'dir' ? `${entry.path}/` : entry.path);
  h.write(name, 0, 100, 'utf8');
  octal(h, entry.type === 'symlink' ? 0o777 : entry.mode & 0o7777, 100, 8);
  octal(h, 0, 108, 8); // uid root
  octal(h, 0, 116, 8); // gid root
  octal(h, size, 124, 12);
  octal(h, Math.floor(entry.mtime / 1000), 136, 12);
  h.write(entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2', 156, 1, 'ascii');
  if (entry.type === 'symlink') {
    if (Buffer.byteLength(entry.target) > 100) throw new Error(`symbolic link target too long for a tar header: ${entry.target}`);
    h.write(entry.target, 157, 100, 'utf8');
  }
  h.write('ustar\0' + '00', 257, 8, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  h.fill(' ', 148, 156); // checksum computed with its own field as spaces
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

async function* blocks(entries: Iterable<TarEntry>): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    if (entry.type !== 'file') {
      yield header(entry, 0);
      continue;
    }
    if ('data' in entry) {
      yield header(entry, entry.data.length);
      yield entry.data;
      yield padding(entry.data.length);
      continue;
    }
    yield header(entry, entry.size);
    let written = 0;
    for await (const chunk of createReadStream(entry.source)) {
      const buf = chunk as Buffer;
      const take = buf.subarray(0, Math.max(0, entry.size - written));
      written += take.length;
      yield take;
    }
    if (written !== entry.size) throw new Error(`${entry.source} changed while it was archived`);
    yield padding(entry.size);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** A tar archive of the entries, streamed (files are read as the archive is consumed). */
export const tarStream = (entries: Iterable<TarEntry>): Readable => Readable.from(blocks(entries), { objectMode: false });

/** Bytes the archive of these entries takes. */
export function tarSize(entries: Iterable<TarEntry>): number {
  let total = BLOCK * 2;
  for (const e of entries) {
    const size = e.type !== 'file' ? 0 : 'data' in e ? e.data.length : e.size;
    total += BLOCK + size + padding(size).length;
  }
  return total;
}
