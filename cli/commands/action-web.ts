import { randomInt } from 'node:crypto';
import { InvalidArgumentError } from 'commander';
import { annotation, type KeyValue } from '../../common/key-value.ts';
import { UsageError } from '../errors.ts';

/** The annotations of `--web` and `--web-secure`, worked out as wsk does (commands/action.go). */

export type Web = 'true' | 'false' | 'raw';

export function web(value: string): Web {
  const v = value.toLowerCase();
  if (v === 'true' || v === 'yes') return 'true';
  if (v === 'false' || v === 'no') return 'false';
  if (v === 'raw') return 'raw';
  throw new InvalidArgumentError('must be true, false or raw');
}

export const WEB_SECURE = 'require-whisk-auth';

/** Later lists win, key by key. */
export const merge = (...lists: (KeyValue[] | undefined)[]): KeyValue[] => {
  const m = new Map<string, unknown>();
  for (const l of lists) for (const kv of l ?? []) m.set(kv.key, kv.value);
  return [...m].map(([key, value]) => ({ key, value }));
};

/** The annotations wsk sets for `--web`. */
function webAnnotations(w: Web): KeyValue[] {
  const on = w !== 'false';
  return [
    { key: 'web-export', value: on },
    { key: 'raw-http', value: w === 'raw' },
    { key: 'final', value: on },
  ];
}

/** wsk's generated secret: a random integer a JavaScript number holds exactly. */
const generatedSecret = (): number => randomInt(1, 2 ** 48);

export interface WebFlags {
  web?: Web;
  webSecure?: string;
}

/**
 * The annotations an action gets from `--web` and `--web-secure`, on top of `given` (the
 * command line's), and the annotations an update must delete. `existing` is the action being
 * updated, if any: an update replaces the annotations, so its others are kept, as wsk does.
 * `--web-secure true` sets a generated number (an existing number is kept), `false` removes
 * the annotation, anything else is the secret itself; it needs a web action.
 */
export function webSettings(f: WebFlags, given: KeyValue[] | undefined, existing: KeyValue[] | undefined): { annotations?: KeyValue[]; delAnnotations?: string[] } {
  if (!f.web && f.webSecure === undefined) return given ? { annotations: given } : {};
  const kept = existing?.filter((a) => a.key !== 'exec') ?? [];
  let annotations = merge(kept, given, f.web ? webAnnotations(f.web) : undefined);
  if (f.webSecure === undefined) return { annotations };
  if (annotation(annotations, 'web-export') !== true) throw new UsageError('The --web-secure option is only valid when the --web option is enabled.');
  const current = annotation(annotations, WEB_SECURE);
  const mode = f.webSecure.toLowerCase();
  if (mode === 'false') {
    annotations = annotations.filter((a) => a.key !== WEB_SECURE);
    return { annotations, ...(current !== undefined && existing ? { delAnnotations: [WEB_SECURE] } : {}) };
  }
  const secret = mode === 'true' ? (typeof current === 'number' ? current : generatedSecret()) : f.webSecure;
  return { annotations: merge(annotations, [{ key: WEB_SECURE, value: secret }]) };
}
