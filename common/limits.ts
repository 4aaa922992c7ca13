import { BadRequestError } from './errors.ts';

/** Action limits with OpenWhisk's ranges and defaults. */
export const LIMITS = {
  timeout: { min: 100, max: 300_000, default: 60_000, unit: 'ms' },
  memory: { min: 128, max: 512, default: 256, unit: 'MB' },
  logs: { min: 0, max: 10, default: 10, unit: 'MB' },
  concurrency: { min: 1, max: 500, default: 1, unit: '' },
} as const;

export type LimitName = keyof typeof LIMITS;
export type ActionLimits = Record<LimitName, number>;

export const defaultLimits = (): ActionLimits => ({
  timeout: LIMITS.timeout.default,
  memory: LIMITS.memory.default,
  logs: LIMITS.logs.default,
  concurrency: LIMITS.concurrency.default,
});

/** Merge requested limits over `base`, rejecting values outside OpenWhisk's ranges. */
export function mergeLimits(base: ActionLimits, requested: Partial<Record<LimitName, number>> | undefined): ActionLimits {
  const out = { ...base };
  for (const name of Object.keys(LIMITS) as LimitName[]) {
    const v = requested?.[name];
    if (v === undefined) continue;
    const { min, max, unit } = LIMITS[name];
    if (!Number.isInteger(v)) throw new BadRequestError(`${name} limit must be an integer.`);
    if (v < min) throw new BadRequestError(`${name} ${v}${unit ? ' ' + unit : ''} below allowed threshold of ${min}${unit ? ' ' + unit : ''}.`);
    if (v > max) throw new BadRequestError(`${name} ${v}${unit ? ' ' + unit : ''} exceeds allowed threshold of ${max}${unit ? ' ' + unit : ''}.`);
    out[name] = v;
  }
  return out;
}

/** Size limits on what a request may carry. */
export const SIZES = {
  /** Action code (source text or base64 zip). */
  actionCode: 48 * 1024 * 1024,
  /** What the body of an entity PUT may hold: code plus the rest of the entity. */
  requestBody: 50 * 1024 * 1024,
  /**
   * Any other request body: an invocation's or trigger fire's parameters (OpenWhisk's
   * documented limit: "The maximum POST content size ... for an action invocation or trigger
   * firing is 1MB"), a web action's body, the small bodies of the other routes.
   */
  payload: 1024 * 1024,
  /** Parameters (and annotations) of one entity, serialized. */
  parameters: 1024 * 1024,
  /**
   * One activation record, serialized: room for the largest logs an action may keep (10 MB of
   * text, plus each line's time and stream) and a 1 MB result. A larger record is stored with
   * its logs cut (common/record-fit.ts).
   */
  record: 16 * 1024 * 1024,
  /** Code longer than this is kept as a CouchDB attachment, not inline in the document. */
  inlineCode: 1024 * 1024,
} as const;

export const LIST_LIMIT = { default: 30, max: 200 } as const;
