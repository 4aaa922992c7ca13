import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { isMasterKey } from './master-key.ts';

/**
 * One configuration schema for every swirl component. Each key is read from the
 * environment as `SWIRL_<UPPER_SNAKE_KEY>` (e.g. `dataDir` ← `SWIRL_DATA_DIR`), or from the
 * JSON file named by `SWIRL_CONFIG_FILE` (camelCase keys); the environment wins.
 * Defaults serve standalone. Invalid values stop start-up with a message naming the key.
 */
const port = z.coerce.number().int().min(0).max(65535);

/**
 * The data directory when none is configured: `.swirl/data` in the checkout, wherever the
 * command runs from, so that `swirl admin` run in another folder finds the store `npm start` made.
 */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../.swirl/data', import.meta.url));

export const configSchema = z.object({
  /** HTTP port of the controller API. */
  port: port.default(3233),
  /** Interface the controller binds to. */
  host: z.string().min(1).default('0.0.0.0'),
  /** Where standalone keeps its embedded store and generated secrets (a relative path is from the working directory). */
  dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
  /**
   * The store of standalone when no CouchDB is named: `lmdb` (in the process, `<dataDir>/lmdb`),
   * or `couchdb`, the embedded CouchDB-API server (`<dataDir>/couchdb`), what a cluster
   * controller without CouchDB serves its invokers.
   */
  standaloneStore: z.enum(['lmdb', 'couchdb']).default('lmdb'),
  /** A CouchDB URL (with credentials); when unset, standalone runs the embedded CouchDB-API server. */
  couchdbUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Port of the embedded CouchDB-API server (0: any free port). */
  embeddedCouchdbPort: port.default(0),
  /** Interface of the embedded CouchDB-API server: anything but 127.0.0.1 only for a cluster whose invokers use the controller's embedded store. */
  embeddedCouchdbHost: z.string().min(1).default('127.0.0.1'),
  /** Password of user `swirl` of the embedded CouchDB-API server; unset: a random one per start (invokers cannot be told it). */
  embeddedCouchdbPassword: z.string().min(16, 'at least 16 characters').optional(),
  /** Prefix for database names (subjects, whisks, activations), to share one CouchDB. */
  dbPrefix: z.string().regex(/^[a-z][a-z0-9_$()+/-]*$|^$/, 'lower-case letters, digits and _$()+-/ only, starting with a letter').default(''),
  /** `uuid:key` of the guest identity; generated once and kept in the store when unset. */
  guestKey: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[A-Za-z0-9]{32,128}$/i, 'expected <uuid>:<key> with a key of 32 to 128 letters and digits').optional(),
  /** Namespace of the guest identity. */
  guestNamespace: z.string().regex(/^[A-Za-z0-9][\w@.&-]{0,254}$/, 'a namespace name that does not start with _').default('guest'),
  /**
   * Base64 of 32 random bytes: encrypts action, package and trigger parameters and the
   * server's secrets in the store. Required for a cluster controller; standalone makes one
   * in the data directory when unset.
   */
  masterKey: z.string().refine(isMasterKey, 'base64 of 32 bytes (e.g. openssl rand -base64 32)').optional(),
  /** HMAC secret for Bearer tokens; generated once and kept in the store (encrypted) when unset. */
  jwtSecret: z.string().min(32, 'at least 32 characters').optional(),
  /** Lifetime of tokens issued by POST /api/v1/token when the caller does not ask for less. */
  jwtTtlSeconds: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(3600),
  /** pino log level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How long a verified identity is cached by the controller. */
  authCacheMs: z.coerce.number().int().min(0).max(600_000).default(5_000),

  // ---- invoke path: bus, health, throttles ----
  /** Id of this controller: completions for what it published come back on `completed<id>`. */
  controllerId: z.string().regex(/^[0-9]{1,4}$/, 'a number from 0 to 9999').default('0'),
  /** How many controllers share the invokers (each balances with its share of their memory). */
  controllerCount: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * The message bus between controllers and invokers: `local` (standalone: one process, durable
   * in `<dataDir>/bus`), `memory` (one process, nothing survives it), `redis` or `kafka`.
   */
  bus: z.enum(['local', 'memory', 'redis', 'kafka']).default('local'),
  /** Redis for invoker health and throttles (and the bus when `bus=redis`); unset in standalone: kept in memory. */
  redisUrl: z.url({ protocol: /^rediss?$/ }).optional(),
  /** Kafka brokers, comma-separated `host:port` (for `bus=kafka`). */
  kafkaBrokers: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'comma-separated host:port')
    .optional(),
  /** How long a blocking invoke waits for the result before answering 202 with the activation id. */
  blockingTimeoutMs: z.coerce.number().int().min(100).max(300_000).default(60_000),
  /** How long the controller keeps actions and packages it read (other controllers' updates show after this). */
  entityCacheMs: z.coerce.number().int().min(0).max(600_000).default(5_000),
  /** Per-namespace throttles, unless the namespace has its own (`npm run admin -- limits set`). */
  limitInvokesPerMinute: z.coerce.number().int().min(0).max(10_000_000).default(60),
  limitConcurrentInvokes: z.coerce.number().int().min(0).max(1_000_000).default(30),
  limitFiresPerMinute: z.coerce.number().int().min(0).max(10_000_000).default(60),
  /** Web action request bodies without credentials read at once (each up to 1 MB); past it, 429 with Retry-After. */
  webBodyReads: z.coerce.number().int().min(1).max(10_000).default(32),

  // ---- invoker ----
  /** Id of this invoker (its Kafka topic is `invoker<id>`; its containers carry the id as a label). */
  invokerId: z.string().regex(/^[0-9]{1,4}$/, 'a number from 0 to 9999').default('0'),
  /**
   * Where actions run: Docker containers, sandboxes (bubblewrap and cgroups, no daemon), local
   * processes (not isolated), or `auto` (Docker when a daemon answers, else sandboxes where the host can run them, else processes).
   */
  containerFactory: z.enum(['auto', 'docker', 'sandbox', 'process']).default('auto'),
  /** Memory all of this invoker's containers may use together (MB). */
  invokerMemoryMb: z.coerce.number().int().min(128).max(1024 * 1024).default(2048),
  /**
   * Stem cells kept prewarmed, as JSON: `[{"kind":"nodejs:20","memory":256,"count":2}]`
   * (memory defaults to 256 MB, count to 1). `[]` keeps none.
   */
  prewarm: z
    .preprocess(
      (v) => {
        if (typeof v !== 'string') return v;
        try {
          return JSON.parse(v);
        } catch {
          return v;
        }
      },
      z.array(z.object({ kind: z.string().min(1), memory: z.number().int().min(128).max(512).default(256), count: z.number().int().min(0).max(64).default(1) })),
    )
    .default([{ kind: 'nodejs:20', memory: 256, count: 2 }]),
  /** An idle warm container is paused after this long (ms). */
  pauseGraceMs: z.coerce.number().int().min(0).max(3_600_000).default(50),
  /** An idle container is removed after this long (ms). */
  idleContainerTimeoutMs: z.coerce.number().int().min(1_000).max(24 * 3_600_000).default(600_000),
  /** Most processes one action container may run. */
  containerPidsLimit: z.coerce.number().int().min(16).max(65_536).default(512),
  /**
   * Docker network the action containers join: created when missing, with inter-container
   * traffic off (an existing network must be such a bridge). Default: `swirl-actions-<id>`,
   * one per data directory, so that two installations on one host keep to their own.
   */
  dockerNetwork: z.string().regex(/^[\w][\w.-]*$/, 'a Docker network name').optional(),
  /** `on`: the invoker installs the host firewall that keeps actions off this host's ports but the API's; `off`: the operator keeps such rules in place. */
  actionFirewall: z.enum(['on', 'off']).default('on'),
  /** `on`: actions reach networks beyond this host (the internet); `off`: only the API. */
  actionOutbound: z.enum(['on', 'off']).default('on'),
  /** Size of each action container's /tmp, a tmpfs counted against the action's memory (MB). */
  actionTmpMb: z.coerce.number().int().min(1).max(4096).default(128),
  /** `build`: missing or stale runtime images are built at start; `require`: they must exist (built on the Docker host by `npm run images`). */
  runtimeImages: z.enum(['build', 'require']).default('build'),
  /** Port of the invoker's operations endpoints (/ping, /ready, POST /disable, /enable), on `host`; 0: any free port. */
  invokerPort: port.default(0),
  /** Where controllers reach this invoker's operations endpoints (sent in its heartbeats); default `http://<host>:<port>`, 127.0.0.1 for 0.0.0.0. */
  invokerUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** The API's URL as actions see it (`__OW_API_HOST`, for actions that call swirl); standalone uses its own. */
  apiHost: z.url({ protocol: /^https?$/ }).optional(),

  // ---- Function Hub: this instance's catalog, the publisher side (controller/hub/catalog.ts) ----
  /** `on`: the public hub API (/hub/v1) serves this instance's published packages; `off`: its routes are 404. */
  hub: z.enum(['on', 'off']).default('on'),
  /** This instance's public base URL for hub peers (its REFs' host:port); default: the URL the controller listens on. */
  hubUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** How long the hub keeps its figures and its list of published packages before computing them again (ms). */
  hubCacheMs: z.coerce.number().int().min(0).max(3_600_000).default(60_000),

  /** `on`: invokers post an event per activation on the bus's `events` topic, in OpenWhisk's user events format. */
  userEvents: z.enum(['on', 'off']).default('off'),
  /**
   * `on`: a sequence whose components are all stdio actions runs as one pipeline on one
   * invoker (each component's result straight into the next, one bus message for all) —
   * same records, same result; `off`: every sequence runs component by component.
   */
  stdioPipelines: z.enum(['on', 'off']).default('on'),
  /** Shared secret for the invokers' POST /disable and /enable (Bearer); controllers send it. Unset: no check (keep the port private). */
  opsToken: z.string().min(16, 'at least 16 characters').optional(),

  // ---- Function Hub: peers and the consumer side (controller/hub/peers.ts) ----
  /** Base URLs of the hub peers this instance asks, comma-separated (`http://10.0.0.2:3233,https://hub.example.org`). */
  hubPeers: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .refine((urls) => urls.every((u) => /^https?:\/\/[^/\s]+\/?$/i.test(u) && URL.canParse(u)), 'comma-separated http(s) base URLs (scheme://host:port)'),
  /** Seconds a peer learned from another peer is kept unless seen again. */
  hubPeerTtl: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(600),
  /** How long a peer may take to answer a catalog or peers request (ms); a slower one is named down. */
  hubTimeoutMs: z.coerce.number().int().min(50).max(60_000).default(2_000),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigKey = keyof Config;

export class ConfigError extends Error {}

/** Keys whose values are secrets. */
const SECRETS = new Set<string>(['guestKey', 'jwtSecret', 'opsToken', 'embeddedCouchdbPassword', 'masterKey']);

/** Whether a host name or address (an IPv6 one as a URL writes it too) is this machine's loopback. */
export const isLoopback = (host: string): boolean => /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/.test(host);

export const envName = (key: string): string => 'SWIRL_' + key.replace(/([A-Z])/g, '_$1').toUpperCase();

/** Build the configuration from `env` (and the optional JSON file); throws ConfigError naming every bad key. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<ConfigKey, unknown>> = {}): Config {
  let fromFile: Record<string, unknown> = {};
  const file = env.SWIRL_CONFIG_FILE;
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`invalid configuration: SWIRL_CONFIG_FILE: cannot read ${file}: ${(e as Error).message}`);
    }
  }
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = env[envName(key)];
    raw[key] = overrides[key as ConfigKey] ?? (v !== undefined && v !== '' ? v : fromFile[key]);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      // a secret, even a malformed one, is not repeated into logs; nor are the credentials of a URL
      const got = SECRETS.has(key) ? `${String(raw[key]).length} characters` : JSON.stringify(raw[key])?.replace(/\/\/[^@/"]*@/, '//***@');
      return `${envName(key)}: ${i.message} (got ${got})`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  const missing = [
    c.bus === 'redis' && !c.redisUrl && `${envName('redisUrl')}: required when ${envName('bus')}=${c.bus}`,
    c.bus === 'kafka' && !c.kafkaBrokers && `${envName('kafkaBrokers')}: required when ${envName('bus')}=${c.bus}`,
    // a store served beyond this machine must have a password others can be given
    !c.couchdbUrl && !isLoopback(c.embeddedCouchdbHost) && !c.embeddedCouchdbPassword && `${envName('embeddedCouchdbPassword')}: required when ${envName('embeddedCouchdbHost')} is not a loopback address`,
  ].filter(Boolean) as string[];
  if (missing.length) throw new ConfigError(`invalid configuration:\n  ${missing.join('\n  ')}`);
  return c;
}
