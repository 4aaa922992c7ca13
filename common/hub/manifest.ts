import { createHash } from 'node:crypto';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { annotation, type Action, type KeyValue, type Package } from '../entities.ts';
import { SwirlError } from '../errors.ts';
import type { ActionLimits } from '../limits.ts';
import { formatRef, type HubRef } from './ref.ts';

/**
 * A published package as a hub bundle: `manifest.json` + `actions/<name>` (the code: source
 * text, or the zip bytes of a binary action), and its digest. The manifest holds each file's
 * sha256, so the digest of the manifest covers the code.
 *
 * What a manifest may hold is chosen here, and only here: parameter NAMES and descriptions
 * (from the `parameters` annotation, plus the names of bound parameters), never their values;
 * of the annotations only a hub-safe subset. Pure: unit-tested in test/unit/hub-manifest.test.ts.
 */

export const HUB_FORMAT = 'swirl-hub/1';
/** The package annotation that puts a package in its instance's hub catalog. */
export const HUB_PUBLISH = 'hub-publish';

export interface HubParameter {
  name: string;
  description: string;
  required?: boolean;
  /** The package binds a value to it (the value itself is never published). */
  bound?: boolean;
}

export interface HubExample {
  action: string;
  params?: Record<string, unknown>;
  /** The result must hold these keys with these values (deep-equal per key). */
  expect?: Record<string, unknown>;
}

export interface ManifestAction {
  name: string;
  kind: string;
  main?: string;
  binary: boolean;
  limits: ActionLimits;
  annotations: KeyValue[];
  parameters: HubParameter[];
  /** `actions/<name>` in the zip. */
  file: string;
  /** Hex sha256 of the file's bytes. */
  sha256: string;
}

export interface Manifest {
  format: typeof HUB_FORMAT;
  /** The package REF with its version: `host:port/owner/package@version`. */
  ref: string;
  package: {
    owner: string;
    name: string;
    version: string;
    description: string;
    license: string;
    parameters: HubParameter[];
    annotations: KeyValue[];
  };
  actions: ManifestAction[];
  examples: HubExample[];
}

/** A manifest with its files (name in the zip → bytes) and digest (`sha256:<hex>`). */
export interface Bundle {
  manifest: Manifest;
  files: Record<string, Uint8Array>;
  digest: string;
}

/**
 * A bundle that does not verify: served tampered, truncated or malformed. 502: a peer served it.
 * The message names `ref` when given; `reason` is the same without it (for a caller that names the ref itself).
 */
export class HubBundleError extends SwirlError {
  readonly reason: string;
  constructor(reason: string, ref?: string) {
    super(502, ref ? `${ref}: ${reason}` : reason);
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------
// Publisher settings (package annotations)

export interface HubSettings {
  published: boolean;
  description: string;
  license: string;
  codeVisible: boolean;
  downloadable: boolean;
  examples: HubExample[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isTrue = (v: unknown): boolean => v === true || v === 'true';
const text = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

/** The hub settings a package's annotations carry (defaults: unpublished, hidden code, no downloads). */
export function hubSettings(pkg: Pick<Package, 'annotations'>): HubSettings {
  const a = pkg.annotations;
  return {
    published: isTrue(annotation(a, HUB_PUBLISH)),
    description: text(annotation(a, 'description')),
    license: text(annotation(a, 'hub-license'), 'unspecified') || 'unspecified',
    codeVisible: annotation(a, 'hub-code') === 'visible',
    downloadable: isTrue(annotation(a, 'hub-download')),
    examples: examplesOf(annotation(a, 'hub-examples')),
  };
}

/** `hub-examples`: well-formed entries only (an action name, object params and expect). */
export function examplesOf(v: unknown): HubExample[] {
  if (!Array.isArray(v)) return [];
  return v.filter((e): e is Record<string, unknown> => isRecord(e) && typeof e.action === 'string').map((e) => ({
    action: e.action as string,
    ...(isRecord(e.params) ? { params: e.params } : {}),
    ...(isRecord(e.expect) ? { expect: e.expect } : {}),
  }));
}

/**
 * OpenWhisk's `parameters` annotation reduced to name, description and required (whatever
 * else an entry holds — a default value perhaps — stays home), plus the names of bound
 * parameters not described there.
 */
export function hubParameters(annotations: KeyValue[], bound: KeyValue[] = []): HubParameter[] {
  const described = annotation(annotations, 'parameters');
  const out: HubParameter[] = [];
  for (const p of Array.isArray(described) ? described : []) {
    if (!isRecord(p) || typeof p.name !== 'string' || out.some((o) => o.name === p.name)) continue;
    out.push({ name: p.name, description: text(p.description), ...(typeof p.required === 'boolean' ? { required: p.required } : {}) });
  }
  for (const { key } of bound) {
    const known = out.find((o) => o.name === key);
    if (known) known.bound = true;
    else out.push({ name: key, description: '', bound: true });
  }
  return out;
}

/** The annotations a hub may show: description, web-export and its companions, and the parameters' descriptions. */
export function hubSafeAnnotations(annotations: KeyValue[]): KeyValue[] {
  const out: KeyValue[] = [];
  for (const { key, value } of annotations) {
    if (key === 'description' && typeof value === 'string') out.push({ key, value });
    else if (WEB_KEYS.has(key) && (typeof value === 'boolean' || value === 'true' || value === 'false' || value === 'raw')) out.push({ key, value });
    else if (key === 'parameters') out.push({ key, value: hubParameters([{ key, value }]).map(({ bound: _b, ...p }) => p) });
  }
  return out;
}
const WEB_KEYS = new Set(['web-export', 'raw-http', 'final']);

// ---------------------------------------------------------------------------------------
// Digest

/** Canonical JSON: keys sorted recursively (by UTF-16 code units), no whitespace, undefined members left out (RFC 8785's shape). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const members = Object.keys(obj)
    .filter((k) => obj[k] !== undefined && typeof obj[k] !== 'function')
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
  return `{${members.join(',')}}`;
}

export const sha256Hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** `sha256:<hex>` of the manifest's canonical JSON. */
export const manifestDigest = (manifest: Manifest): string => `sha256:${sha256Hex(canonicalJson(manifest))}`;

// ---------------------------------------------------------------------------------------
// Build

/** Actions a bundle can carry: those with code (a sequence or an image-only action has none to ship). */
export const hasCode = (a: Pick<Action, 'exec'>): boolean => typeof a.exec.code === 'string' && a.exec.kind !== 'sequence';

/** The file bytes of an action's code: the zip's bytes for a binary action, else the source text. */
export const codeBytes = (a: Pick<Action, 'exec'>): Uint8Array => (a.exec.binary ? new Uint8Array(Buffer.from(a.exec.code ?? '', 'base64')) : strToU8(a.exec.code ?? ''));

/**
 * The bundle of a package and its actions, as `instance` (`host:port`) publishes it. The
 * package's owner is the first segment of its namespace. Actions without code are left out.
 */
export function buildBundle(instance: string, pkg: Package, actions: Action[]): Bundle {
  const owner = pkg.namespace.split('/')[0]!;
  const settings = hubSettings(pkg);
  const ref: HubRef = { instance, owner, package: pkg.name, version: pkg.version };
  const files: Record<string, Uint8Array> = {};
  const entries: ManifestAction[] = [];
  for (const a of [...actions].filter(hasCode).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))) {
    const file = `actions/${a.name}`;
    files[file] = codeBytes(a);
    entries.push({
      name: a.name,
      kind: a.exec.kind,
      ...(a.exec.main ? { main: a.exec.main } : {}),
      binary: a.exec.binary,
      limits: { ...a.limits },
      annotations: hubSafeAnnotations(a.annotations),
      parameters: hubParameters(a.annotations, a.parameters).map(({ bound: _b, ...p }) => p),
      file,
      sha256: sha256Hex(files[file]),
    });
  }
  const manifest: Manifest = {
    format: HUB_FORMAT,
    ref: formatRef(ref),
    package: {
      owner,
      name: pkg.name,
      version: pkg.version,
      description: settings.description,
      license: settings.license,
      parameters: hubParameters(pkg.annotations, pkg.parameters),
      annotations: hubSafeAnnotations(pkg.annotations),
    },
    actions: entries,
    examples: settings.examples,
  };
  return { manifest, files, digest: manifestDigest(manifest) };
}

/** The bundle as a zip: `manifest.json` (canonical JSON) and `actions/<name>`. Deterministic (fixed mtime). */
export function bundleZip(bundle: Bundle): Uint8Array {
  const mtime = new Date('2000-01-01T00:00:00Z');
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = { 'manifest.json': [strToU8(canonicalJson(bundle.manifest)), { mtime }] };
  for (const [name, bytes] of Object.entries(bundle.files)) entries[name] = [bytes, { mtime }];
  return zipSync(entries, { level: 6 });
}

// ---------------------------------------------------------------------------------------
// Read and verify (the consumer's side)

/** Upper bounds on what a downloaded zip may unpack to (a zip bomb is refused before it is inflated). */
export const BUNDLE_LIMITS = { files: 1000, fileBytes: 48 * 1024 * 1024, totalBytes: 64 * 1024 * 1024, manifestBytes: 4 * 1024 * 1024 };

/**
 * Unpack a downloaded zip and verify it: every file's sha256 as the manifest says, no file
 * the manifest does not name, and — when `expected` is given — the manifest's digest equal to
 * it. Throws HubBundleError ("digest mismatch: expected …, got …", naming the ref) otherwise.
 */
export function readBundle(zip: Uint8Array, expected?: string): Bundle {
  let declared = 0;
  let count = 0;
  let raw: Record<string, Uint8Array>;
  try {
    raw = unzipSync(zip, {
      filter: (f) => {
        count += 1;
        declared += f.originalSize;
        const cap = f.name === 'manifest.json' ? BUNDLE_LIMITS.manifestBytes : BUNDLE_LIMITS.fileBytes;
        if (count > BUNDLE_LIMITS.files || f.originalSize > cap || declared > BUNDLE_LIMITS.totalBytes) throw new HubBundleError(`the hub bundle is larger than allowed (${f.name})`);
        return true;
      },
    });
  } catch (err) {
    if (err instanceof HubBundleError) throw err;
    throw new HubBundleError('the hub bundle is not a valid zip');
  }
  const manifest = parseManifest(raw['manifest.json']);
  const files: Record<string, Uint8Array> = {};
  for (const [name, bytes] of Object.entries(raw)) if (name !== 'manifest.json' && !name.endsWith('/')) files[name] = bytes;
  return verifyBundle({ manifest, files, digest: manifestDigest(manifest) }, expected);
}

/** Check a bundle's files against its manifest and its digest against `expected` (when given). */
export function verifyBundle(bundle: Bundle, expected?: string): Bundle {
  const { manifest, files } = bundle;
  const ref = manifest.ref;
  const named = new Set(manifest.actions.map((a) => a.file));
  for (const name of Object.keys(files)) if (!named.has(name)) throw new HubBundleError(`the bundle holds a file its manifest does not name: ${name}`, ref);
  for (const a of manifest.actions) {
    const bytes = files[a.file];
    if (!bytes) throw new HubBundleError(`the bundle lacks ${a.file}`, ref);
    const got = sha256Hex(bytes);
    if (got !== a.sha256) throw new HubBundleError(`digest mismatch for ${a.file}: expected sha256:${a.sha256}, got sha256:${got}`, ref);
  }
  const digest = manifestDigest(manifest);
  if (expected !== undefined && digest !== expected) throw new HubBundleError(`digest mismatch: expected ${expected}, got ${digest}`, ref);
  return { manifest, files, digest };
}

/** The code of a bundle's action as an action's `exec.code` takes it: base64 for a binary action, else text. */
export function actionCode(bundle: Bundle, action: ManifestAction): string {
  const bytes = bundle.files[action.file]!;
  return action.binary ? Buffer.from(bytes).toString('base64') : strFromU8(bytes);
}

const str = (v: unknown): v is string => typeof v === 'string';

function parseManifest(bytes: Uint8Array | undefined): Manifest {
  if (!bytes) throw new HubBundleError('the hub bundle has no manifest.json');
  let m: unknown;
  try {
    m = JSON.parse(strFromU8(bytes));
  } catch {
    throw new HubBundleError('the hub bundle\'s manifest.json is not valid JSON');
  }
  const bad = (why: string): HubBundleError => new HubBundleError(`the hub bundle's manifest.json is malformed: ${why}`);
  if (!isRecord(m) || m.format !== HUB_FORMAT) throw bad(`format is not ${HUB_FORMAT}`);
  if (!str(m.ref)) throw bad('ref');
  if (!isRecord(m.package) || !str(m.package.owner) || !str(m.package.name) || !str(m.package.version)) throw bad('package');
  if (!Array.isArray(m.actions)) throw bad('actions');
  for (const a of m.actions as unknown[]) {
    if (!isRecord(a) || !str(a.name) || !str(a.kind) || !str(a.file) || !str(a.sha256) || typeof a.binary !== 'boolean') throw bad('an action');
    if (a.file !== `actions/${a.name}` || a.name.includes('/')) throw bad(`action ${a.name}: file must be actions/<name>`);
  }
  if (!Array.isArray(m.examples)) throw bad('examples');
  return m as unknown as Manifest;
}
