import { parseJson } from '../../common/json.ts';

/**
 * Reading a feed action's parameters. A parameter the caller got wrong is a FeedParamError:
 * the feed action's activation ends as an application error with its message (the CLI
 * shows a 502 with it), as OpenWhisk's feed actions answer.
 */
export class FeedParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeedParamError';
  }
}

/** A date parameter (ISO string or epoch ms) as epoch ms, in the future, after `after` when given. */
export function futureDate(params: Record<string, unknown>, name: string, now: number, after?: { name: string; at: number }): number | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  const at = typeof value === 'number' || typeof value === 'string' ? new Date(value).getTime() : NaN;
  if (Number.isNaN(at)) throw new FeedParamError(`${name} parameter '${String(value)}' is not a valid Date`);
  if (at <= now) throw new FeedParamError(`${name} parameter '${String(value)}' must be in the future`);
  if (after && at <= after.at) throw new FeedParamError(`${name} parameter '${String(value)}' must be greater than the ${after.name} parameter '${new Date(after.at).toISOString()}'`);
  return at;
}

/**
 * `trigger_payload`: an object goes to every fire as it is; a string is parsed as JSON when it
 * holds an object, and otherwise sent as `{payload: "<string>"}`, as OpenWhisk's alarms do.
 */
export function triggerPayload(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  if (typeof value === 'string') {
    try {
      const parsed: unknown = parseJson(value);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // not JSON (or nested too deep to hand on): the string itself is the payload
    }
    return { payload: value };
  }
  throw new FeedParamError('the trigger_payload parameter must be an object or a string');
}

/** A positive integer parameter (numbers and numeric strings), or undefined when absent. */
export function positiveInteger(params: Record<string, unknown>, name: string, what = `the ${name} parameter`): number | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw new FeedParamError(`${what} must be an integer`);
  if (n <= 0) throw new FeedParamError(`${what} must be an integer greater than zero`);
  return n;
}

/** A boolean parameter: true/false or their strings; `fallback` when absent. */
export function booleanParam(params: Record<string, unknown>, name: string, fallback = false): boolean {
  const value = params[name];
  if (value === undefined || value === null || value === '') return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new FeedParamError(`the ${name} parameter must be true or false`);
}
