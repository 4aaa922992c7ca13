import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Config } from './config.ts';
import { readIfExists, writePrivateFile } from './private-files.ts';

/** Where standalone keeps the master key it made: in the data directory, beside (not inside) the store's files. */
export const masterKeyPath = (dataDir: string): string => join(resolve(dataDir), 'master.key');

/** Whether `text` is base64 of exactly 32 bytes. */
export const isMasterKey = (text: string): boolean => /^[A-Za-z0-9+/]{43}=$/.test(text) && Buffer.from(text, 'base64').length === 32;

/**
 * The master key that encrypts parameters and the server's secrets in the store: the
 * configured one (SWIRL_MASTER_KEY), or — for a process that may make its own (standalone) —
 * the one in `<dataDir>/master.key` (0600), made on first start. A copy of the store
 * without this key reveals neither.
 */
export function masterKey(config: Pick<Config, 'masterKey' | 'dataDir'>, opts: { generate: boolean }): Buffer | undefined {
  if (config.masterKey) return Buffer.from(config.masterKey, 'base64');
  if (!opts.generate) return undefined;
  const path = masterKeyPath(config.dataDir);
  const kept = readIfExists(path)?.trim();
  if (kept !== undefined) {
    if (!isMasterKey(kept)) throw new Error(`${path} does not hold a master key (base64 of 32 bytes)`);
    return Buffer.from(kept, 'base64');
  }
  const key = randomBytes(32);
  writePrivateFile(path, key.toString('base64') + '\n');
  return key;
}
