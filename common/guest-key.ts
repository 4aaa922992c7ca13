import { join, resolve } from 'node:path';
import { readIfExists, writePrivateFile } from './private-files.ts';

/**
 * The guest's `uuid:key`, kept where it was made: `<dataDir>/guest.key`, 0600. The store
 * keeps only its hash, so this file (and the one time it is printed) is the only copy;
 * `swirl admin user key guest` issues a new one and rewrites it.
 */
export const guestKeyPath = (dataDir: string): string => join(resolve(dataDir), 'guest.key');

export function writeGuestKey(dataDir: string, auth: string): string {
  const path = guestKeyPath(dataDir);
  writePrivateFile(path, auth + '\n');
  return path;
}

/** The kept `uuid:key`, or undefined. */
export const readGuestKey = (dataDir: string): string | undefined => readIfExists(guestKeyPath(dataDir))?.trim() || undefined;
