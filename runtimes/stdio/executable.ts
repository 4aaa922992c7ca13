import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InitFailure, type InitValue } from '../common/protocol.ts';
import { extractZip, isZip } from '../common/zip.ts';

/** An executable that declares it serves many requests, one JSON line in and one out, contains this. */
export const LOOP_MARKER = 'swirl:loop';

export interface Executable {
  path: string;
  /** Its working directory (the unpacked archive, or a directory of its own). */
  dir: string;
  /** Long-lived: spawned once, one JSON line per run. */
  loop: boolean;
}

const isElf = (b: Uint8Array) => b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
const isScript = (b: Uint8Array) => b.length >= 2 && b[0] === 0x23 && b[1] === 0x21;

/**
 * Put the action's executable on disk: a script (source text with a `#!` line), a base64
 * zip whose root holds `exec` (OpenWhisk's native-action convention), or a raw base64
 * executable. Its bytes are scanned for the loop marker.
 */
export function prepareExecutable(value: InitValue): Executable {
  const dir = mkdtempSync(join(tmpdir(), 'action-'));
  const path = join(dir, 'exec');
  const code = value.code ?? '';
  if (!code) throw new InitFailure('the action has no code');
  if (value.binary) {
    const buf = Buffer.from(code, 'base64');
    if (isZip(buf)) {
      extractZip(buf, dir);
      if (!existsSync(path) || !statSync(path).isFile()) throw new InitFailure("the zip has no executable named 'exec' at its root");
    } else writeFileSync(path, buf);
  } else writeFileSync(path, code);
  chmodSync(path, 0o755);
  const bytes = readFileSync(path);
  if (!isElf(bytes) && !isScript(bytes)) throw new InitFailure("the executable is neither a script starting with '#!' nor an ELF binary");
  return { path, dir, loop: bytes.includes(LOOP_MARKER) };
}
