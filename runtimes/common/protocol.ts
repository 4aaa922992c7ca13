/**
 * The runtime protocol as every proxy speaks it (design notes, "Runtime protocol"): the
 * bodies of /init and /run, the fixed messages, and the activation's `__OW_*` variables.
 */

/** `value` of a /init body. */
export interface InitValue {
  name?: string;
  /** Name of the entry function; `main` when absent. */
  main?: string;
  /** Source text, or a base64 zip (or executable) when `binary` is true. */
  code?: string;
  binary?: boolean;
  /** Variables to put in the action's environment. */
  env?: Record<string, unknown>;
}

/** A /run body: the parameters in `value`, everything else describes the activation. */
export interface RunMessage {
  value?: unknown;
  [key: string]: unknown;
}

export const Messages = {
  initTwice: 'Cannot initialize the action more than once.',
  notInitialized: 'Cannot invoke an uninitialized action.',
  initFailed: (reason: string) => `Initialization has failed due to: ${reason}`,
  runFailed: (reason: string) => `An error has occurred: ${reason}`,
  notADictionary: 'The action did not return a dictionary.',
  badRequest: 'The request body is not a JSON object.',
  forbidden: 'Forbidden: this container answers only the invoker that started it.',
} as const;

/** A failure reported to the invoker as is: 502 `{"error": message}`. */
export class ActionFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionFailure';
  }
}

/** Init could not load the action: 502 with `Initialization has failed due to: <reason>`. */
export class InitFailure extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InitFailure';
  }
}

/** Variables for the environment; `undefined` means "remove it". */
export type EnvChanges = Record<string, string | undefined>;

const asEnvValue = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** The init body's `env` as environment variables. */
export function initEnv(value: InitValue): EnvChanges {
  const env: EnvChanges = {};
  for (const [k, v] of Object.entries(value.env ?? {})) if (v !== undefined && v !== null) env[k] = asEnvValue(v);
  return env;
}

/**
 * The activation's variables, as OpenWhisk's runtimes set them: every field of the /run
 * body except `value` becomes `__OW_<FIELD>` (`__OW_NAMESPACE`, `__OW_ACTION_NAME`,
 * `__OW_ACTIVATION_ID`, `__OW_DEADLINE`, `__OW_TRANSACTION_ID`, …). `__OW_API_KEY` is
 * removed when the run carries no `api_key`, so a key never outlives its activation.
 */
export function activationEnv(msg: RunMessage): EnvChanges {
  const env: EnvChanges = { __OW_API_KEY: undefined };
  for (const [k, v] of Object.entries(msg)) {
    if (k === 'value' || v === undefined || v === null) continue;
    env[`__OW_${k.toUpperCase()}`] = asEnvValue(v);
  }
  return env;
}

/** Apply changes to an environment object (process.env or a child's copy). */
export function applyEnv(target: Record<string, string | undefined>, changes: EnvChanges): void {
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete target[k];
    else target[k] = v;
  }
}

export const isDictionary = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** How an exception reads in an error message: `TypeError: x is not a function`. */
export const describeError = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
