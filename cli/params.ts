import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { KeyValue } from '../common/entities.ts';
import { JsonTooDeepError, Messages } from '../common/errors.ts';
import { parseJson } from '../common/json.ts';
import { UsageError } from './errors.ts';

/**
 * `-p KEY VALUE` and `-a KEY VALUE` take two words, which commander cannot express; before
 * parsing, each such pair becomes one argument `KEY\0VALUE`.
 */
const PAIR_FLAGS = new Set(['-p', '--param', '-a', '--annotation']);
const SEP = '\u0000';

export function joinPairs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    out.push(arg);
    if (PAIR_FLAGS.has(arg) && i + 2 < argv.length) {
      out.push(`${argv[i + 1]}${SEP}${argv[i + 2]}`);
      i += 2;
    }
  }
  return out;
}

/** A value as wsk reads it: JSON when it parses (`3`, `true`, `{"a":1}`), else the string itself. */
export function parseValue(text: string): unknown {
  try {
    return parseJson(text);
  } catch (e) {
    // the server would refuse it: say so here, rather than send it as a string
    if (e instanceof JsonTooDeepError) throw new UsageError(`The value '${text.slice(0, 40)}…' is ${Messages.tooDeep(e.maxDepth)}`);
    return text;
  }
}

/** commander's collector for pair options. */
export function collectPair(arg: string, previous: KeyValue[] = []): KeyValue[] {
  const i = arg.indexOf(SEP);
  if (i < 0) throw new UsageError(`Arguments for '-p' and '-a' must be a key/value pair (KEY VALUE); got '${arg}'.`);
  return [...previous, { key: arg.slice(0, i), value: parseValue(arg.slice(i + 1)) }];
}

/** A JSON file holding one object (`-P`, `-A`). */
export function readJsonObject(file: string, cwd: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, file), 'utf8');
  } catch (e) {
    throw new UsageError(`File '${file}' is not a valid file or it does not exist: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (e) {
    throw new UsageError(`Invalid JSON in '${file}': ${e instanceof JsonTooDeepError ? Messages.tooDeep(e.maxDepth) : (e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`'${file}' must hold a JSON object.`);
  return value as Record<string, unknown>;
}

/** The key/values of a file (`-P`/`-A`) and of pairs (`-p`/`-a`); a pair wins over the file for the same key. */
export function keyValues(pairs: KeyValue[] | undefined, file: string | undefined, cwd: string): KeyValue[] | undefined {
  if (!pairs && !file) return undefined;
  const merged = new Map<string, unknown>(file ? Object.entries(readJsonObject(file, cwd)) : []);
  for (const p of pairs ?? []) merged.set(p.key, p.value);
  return [...merged].map(([key, value]) => ({ key, value }));
}

/** The same, as one JSON object (an invoke or fire payload). */
export const payload = (pairs: KeyValue[] | undefined, file: string | undefined, cwd: string): Record<string, unknown> =>
  Object.fromEntries((keyValues(pairs, file, cwd) ?? []).map((kv) => [kv.key, kv.value]));
