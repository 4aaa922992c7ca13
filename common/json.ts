import { BadRequestError, JsonTooDeepError, Messages, PayloadTooLargeError, SwirlError } from './errors.ts';

/**
 * JSON with a bound on nesting and size, for everything that enters from outside: request
 * bodies, web bodies, action results, bus and feed messages, server replies to the CLI.
 *
 * JSON.parse itself is iterative in V8, but nearly everything that handles the value next is
 * recursive — JSON.stringify (nano, the bus, the runtimes' proxies), zod, PouchDB, Python's
 * json — and overflows the stack at a few thousand levels. So depth is checked on the text,
 * by an iterative scan of its brackets outside strings, *before* JSON.parse: nothing ever
 * holds a value nested deeper than the bound. Values built in-process (merged parameters,
 * records) are checked by an iterative walk before they are serialized.
 */

/**
 * How deep a value from outside may nest. Real documents stay far below it (a few dozen
 * levels at most); every recursive consumer above copes with ten times as much, even after
 * swirl wraps the value in a record, a bus message and a `_bulk_docs` request (`ENVELOPE_DEPTH`).
 */
export const MAX_JSON_DEPTH = 100;

/** Levels swirl itself adds around a value from outside (record → response → result, message → record, bulk → docs). */
export const ENVELOPE_DEPTH = 8;

export interface JsonBounds {
  /** Most levels of arrays and objects (default MAX_JSON_DEPTH). */
  maxDepth?: number;
  /** Most bytes of text (UTF-8); none when absent. */
  maxBytes?: number;
  /** What the text is, for the size message ('request', 'result'...). */
  what?: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Index just after the string that starts at `from` (after its opening quote), or the text's end. */
function endOfString(text: string, from: number): number {
  for (let i = from; ; ) {
    const q = text.indexOf('"', i);
    if (q < 0) return text.length;
    // the quote ends the string unless an odd number of backslashes precedes it
    let b = q - 1;
    while (b >= i && text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/**
 * Whether the JSON text nests arrays and objects deeper than `maxDepth`, in one pass without
 * recursion (strings are skipped with indexOf, so long strings cost little). Exact for valid
 * JSON; for invalid text the answer does not matter, since JSON.parse refuses it anyway.
 */
export function jsonTooDeep(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i + 1);
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && depth > 0) depth--;
    i++;
  }
  return false;
}

/**
 * Parse JSON text within the bounds: too many bytes is a PayloadTooLargeError (413), too deep
 * a JsonTooDeepError (400), and invalid JSON a SyntaxError (callers word their own 400).
 */
export function parseJson(input: string | Buffer, bounds: JsonBounds = {}): unknown {
  const maxDepth = bounds.maxDepth ?? MAX_JSON_DEPTH;
  if (bounds.maxBytes !== undefined) {
    const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
    if (size > bounds.maxBytes) throw new PayloadTooLargeError(Messages.entityTooBig(bounds.what ?? 'JSON', size, bounds.maxBytes));
  }
  const text = typeof input === 'string' ? input : input.toString('utf8');
  if (jsonTooDeep(text, maxDepth)) throw new JsonTooDeepError(maxDepth);
  return JSON.parse(text);
}

/** JSON from a request: invalid or too deep is a 400 in OpenWhisk's words, too large a 413. */
export function parseRequestJson(input: string | Buffer, bounds: JsonBounds = {}): unknown {
  try {
    return parseJson(input, bounds);
  } catch (e) {
    if (e instanceof SwirlError) throw e;
    throw new BadRequestError(Messages.malformedBody(`invalid JSON: ${(e as Error).message}`));
  }
}

/** Whether a value nests arrays and objects deeper than `maxDepth` (a cycle counts as infinitely deep). Iterative. */
export function valueTooDeep(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > maxDepth) return true;
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const child of children) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * JSON.stringify for a value built in-process, checked first so that it cannot overflow the
 * stack: deeper than `maxDepth` (or cyclic) is a JsonTooDeepError, over `maxBytes` a
 * PayloadTooLargeError. Anything else JSON.stringify throws (a BigInt) passes.
 */
export function stringifyBounded(value: unknown, bounds: JsonBounds = {}): string {
  const maxDepth = bounds.maxDepth ?? MAX_JSON_DEPTH;
  if (valueTooDeep(value, maxDepth)) throw new JsonTooDeepError(maxDepth);
  const text = JSON.stringify(value) ?? '';
  // a UTF-16 unit is at most 3 bytes of UTF-8: most texts need no count
  if (bounds.maxBytes !== undefined && text.length * 3 > bounds.maxBytes) {
    const size = Buffer.byteLength(text);
    if (size > bounds.maxBytes) throw new PayloadTooLargeError(Messages.entityTooBig(bounds.what ?? 'JSON', size, bounds.maxBytes));
  }
  return text;
}
