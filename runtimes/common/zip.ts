import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { unzipSync } from 'fflate';
import { InitFailure } from './protocol.ts';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

export const isZip = (buf: Uint8Array): boolean => buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;

/**
 * Unix modes of a zip's entries, from its central directory (entries made on Unix keep
 * their mode in the upper half of the external attributes). fflate leaves these out.
 */
export function zipModes(buf: Uint8Array): Map<string, number> {
  const modes = new Map<string, number>();
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return modes;
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const names = new TextDecoder();
  for (let n = 0; n < count && at + 46 <= buf.length && view.getUint32(at, true) === 0x02014b50; n++) {
    const madeOnUnix = view.getUint8(at + 5) === 3;
    const nameLength = view.getUint16(at + 28, true);
    const skip = nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    const name = names.decode(buf.subarray(at + 46, at + 46 + nameLength));
    if (madeOnUnix) modes.set(name, view.getUint32(at + 38, true) >>> 16);
    at += 46 + skip;
  }
  return modes;
}

/** Unpack a zip into `dir`, keeping file modes; entries that would land outside `dir` are refused. */
export function extractZip(buf: Uint8Array, dir: string): void {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(buf);
  } catch (e) {
    throw new InitFailure(`the action archive is not a valid zip file (${(e as Error).message})`);
  }
  const modes = zipModes(buf);
  const root = resolve(dir);
  const links: [string, string][] = [];
  for (const [name, data] of Object.entries(files)) {
    const target = resolve(root, name);
    if (target !== root && !target.startsWith(root + sep)) throw new InitFailure(`the action archive has an entry outside its root: ${name}`);
    if (name.endsWith('/')) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    const mode = modes.get(name) ?? 0o644;
    mkdirSync(dirname(target), { recursive: true });
    if ((mode & S_IFMT) === S_IFLNK) {
      links.push([target, new TextDecoder().decode(data)]);
      continue;
    }
    writeFileSync(target, data);
    chmodSync(target, mode & 0o777 || 0o644);
  }
  // symbolic links last, and only those that stay inside the archive's directory
  for (const [path, link] of links) {
    const to = resolve(dirname(path), link);
    if (to === root || to.startsWith(root + sep)) symlinkSync(link, path);
  }
}
