/**
 * The seam between the invoker and whatever runs action code: a ContainerFactory makes
 * containers that serve the runtime protocol (/init, /run on one address). Three
 * implementations: docker (isolated containers), sandbox (bubblewrap and cgroups, no daemon)
 * and process (local child processes, for machines with neither). Pool decisions never depend on which one is in use.
 */

/** The line every runtime proxy writes on stdout and stderr after an activation. */
export const LOG_SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';

/**
 * Logs returned with the answer instead of on stdout and stderr (swirl's own runtimes): a
 * /init or /run carrying the `request` header (the activation's log limit in bytes) is
 * answered with the activation's output as a JSON array of `"<ISO time> <stream>: <line>"`
 * strings at the start of the body, `length` bytes long, before the usual answer; the
 * `truncated` header says lines were dropped at the limit. No end-of-activation sentinel is
 * written then, and nothing of the activation's output passes through the container's
 * streams (or, under Docker, through dockerd). Without the header a runtime writes to its
 * streams and marks each activation's end, as OpenWhisk's runtimes do.
 */
export const INLINE_LOGS = { request: 'x-swirl-logs', length: 'x-swirl-logs-length', truncated: 'x-swirl-logs-truncated' } as const;

/**
 * The most an INLINE_LOGS answer's lines take as sent (JSON, stamped) for a log limit,
 * whatever they hold: a proxy cuts a flood of empty lines, or of characters JSON escapes,
 * there; the invoker refuses longer.
 */
export const maxEncodedLogs = (limit: number): number => 2 * limit + 16 * 1024 * 1024;

/**
 * The variable that gives swirl's own runtime proxies their container's secret: with it
 * set, /init and /run answer only requests carrying `Authorization: Bearer <secret>`, so
 * that nothing but the invoker that made the container can load or run code in it.
 * (Images that follow OpenWhisk's contract know of no such thing; the network alone
 * keeps others away from them.)
 */
export const PROXY_TOKEN_ENV = '__SWIRL_PROXY_TOKEN';

/**
 * Set (to `1`) for a stem cell: swirl's own runtime proxies rehearse one /init and one /run
 * of a throwaway action before they listen (runtimes/common/server.ts), so that the
 * activation that takes the stem cell does not pay for V8 compiling the proxy's request
 * path. A container someone waits for is not asked: it would pay for the rehearsal instead.
 */
export const PROXY_REHEARSE_ENV = '__SWIRL_PROXY_REHEARSE';

/**
 * The fd (a pipe to the invoker) on which swirl's own runtime proxies write one line once
 * they listen, then close: the invoker learns it at once, instead of by polling the port
 * (a poll every few milliseconds misses the moment by half a poll on average).
 */
export const PROXY_READY_FD_ENV = '__SWIRL_PROXY_READY_FD';

export interface ContainerSpec {
  /** Resolved kind (`nodejs:20`, `python:3`, `stdio`, `blackbox`). */
  kind: string;
  /** Image to run (the runtime image of the kind, or the user's image for blackbox). */
  image: string;
  /** Memory limit in MB. */
  memoryMb: number;
  /** Readable part of the container's name (e.g. `prewarm_nodejs-20` or `guest_hello`). */
  name: string;
  /** Extra environment for the container. */
  env?: Record<string, string>;
  /**
   * The action a container is created for (a cold start; a stem cell has none): the invoking
   * namespace and the action's path (`ns/name` or `ns/pkg/name`). Kept in labels, for operators; never in the name,
   * which other containers on the actions network can resolve.
   */
  action?: { namespace: string; name: string };
}

/** The log lines of one activation, cut at the end-of-activation sentinel. */
export interface LogSegment {
  /** `"<ISO time> <stdout|stderr>: <line>"`, in arrival order. */
  lines: string[];
  /** True when lines were dropped because the activation's log limit was reached. */
  truncated: boolean;
  /** False when the sentinel did not arrive on both streams in time (container died or stalled). */
  complete: boolean;
}

/** A log line as activation records keep it: `<ISO time> <stdout|stderr>: <text>`. */
export const stampLine = (time: string, stream: 'stdout' | 'stderr', text: string): string => `${time} ${stream}: ${text}`;

/** Characters of an ISO time (`2026-01-01T00:00:00.000Z`), and of a line's whole stamp (`<time> stdout: `). */
const TIME_CHARS = 24;
export const STAMP_CHARS = TIME_CHARS + ' stdout: '.length;

/** A stamped line's parts. */
export const lineParts = (line: string): { time: string; stream: 'stdout' | 'stderr'; text: string } => ({
  time: line.slice(0, TIME_CHARS),
  stream: line.slice(TIME_CHARS + 1, STAMP_CHARS - 2) as 'stdout' | 'stderr',
  text: line.slice(STAMP_CHARS),
});

/** Two runs of stamped lines as one, in time order (ISO times of one length sort as text; ties keep their order). */
export function byTime(a: string[], b: string[]): string[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const at = (l: string) => l.slice(0, TIME_CHARS);
  return [...a, ...b].sort((x, y) => (at(x) < at(y) ? -1 : at(x) > at(y) ? 1 : 0));
}

export interface Container {
  /** Unique id (docker container id or `proc-<pid>`). */
  readonly id: string;
  readonly spec: ContainerSpec;
  /** `host:port` where the runtime proxy serves /init and /run. */
  readonly address: string;
  /** The secret /init and /run must carry (Bearer), when the proxy was given one. */
  readonly token?: string;
  /**
   * The proxy returns each activation's output with its answer (INLINE_LOGS): swirl's own
   * runtimes. `logs()` then holds only what reached the container's streams besides (a
   * child process writing to them directly, a crash), without end markers.
   */
  readonly inlineLogs?: boolean;
  /** Resolves when the container stops for any reason (crash, kill, destroy). */
  readonly exited: Promise<void>;
  /** Freeze all processes of the container (no CPU while idle). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stop and remove the container; idempotent. */
  destroy(): Promise<void>;
  /**
   * The log lines of the activation that finished last: everything up to the next
   * sentinel on both stdout and stderr, waiting at most `waitMs` for the sentinels, and
   * keeping at most `limitBytes` of line text.
   */
  logs(limitBytes: number, waitMs: number): Promise<LogSegment>;
  /**
   * `logs()` when there is nothing to wait for (the sentinels came, or `waitMs` is 0, and
   * no earlier take is pending): the segment now; else undefined (ask `logs()`). The
   * invoker's warm path, without a promise (on Node 20 each pays for the hooks of the
   * AsyncLocalStorage that carries the log context).
   */
  logsAtOnce?(limitBytes: number, waitMs: number): LogSegment | undefined;
}

export interface ContainerFactory {
  readonly name: 'docker' | 'sandbox' | 'process';
  /** The API's URL as code in this factory's containers reaches it (`__OW_API_HOST`), when the factory knows better than the invoker. */
  readonly apiHost?: string;
  /** Prepare the factory: the isolation its containers need, and removing what dead invokers left behind. */
  init(): Promise<void>;
  /** Start a container and resolve once its proxy accepts connections. */
  create(spec: ContainerSpec): Promise<Container>;
  /** Destroy every container this factory created. */
  close(): Promise<void>;
}

/** How each factory's containers are named to people (start-up announcements). */
export const FACTORY_DESCRIPTIONS: Record<ContainerFactory['name'], string> = {
  docker: 'Docker containers',
  sandbox: 'sandboxes (bubblewrap and cgroups)',
  process: 'local processes, not isolated',
};

/** A container could not be started because its image is missing and cannot be had. */
export class ImageUnavailableError extends Error {
  constructor(readonly image: string, detail?: string) {
    super(`Failed to pull container image '${image}'.${detail ? ' ' + detail : ''}`);
    this.name = 'ImageUnavailableError';
  }
}

/**
 * Whether a kind's runtime marks the end of each activation's output with LOG_SENTINEL.
 * swirl's own runtimes do; an image the user names (blackbox) follows OpenWhisk's contract,
 * where only OpenWhisk's own docker-skeleton does (`BlackBoxExec.sentinelledLogs = native`).
 * Unmarked output is taken as what came while the activation had the container.
 */
export const sentinelledLogs = (kind: string): boolean => kind !== 'blackbox';
