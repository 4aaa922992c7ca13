import { BadRequestError } from '../errors.ts';
import { isEntityName } from '../names.ts';

/**
 * Function Hub references (REF): what a search prints and what install, test and fetch on
 * demand take. An instance is named by its public URL's `host:port`; a package REF is
 * `<host:port>/<owner>/<package>[@<version>]`, a function REF adds `/<action>`. The full URL
 * form (`http://host:port/owner/pkg@0.0.2`) is accepted too and keeps its scheme.
 * Pure: no I/O, unit-tested in test/unit/hub-ref.test.ts.
 */

export interface HubRef {
  /** `host:port` (or `host` when the URL has its scheme's default port). */
  instance: string;
  /** Set when the REF was written as a full URL (informative: an instance is reached at the URL it is known by, see controller/hub/origin.ts). */
  scheme?: 'http' | 'https';
  owner: string;
  package: string;
  /** A function REF names an action of the package. */
  action?: string;
  /** Omitted: the latest (the only one an instance keeps). */
  version?: string;
}

export type FunctionRef = HubRef & { action: string };

const VERSION = /^\d+\.\d+\.\d+$/;
const URL_FORM = /^(https?):\/\/([^/]+)\/(.*)$/i;
const HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;
const MAX_REF = 1024;

const bad = (text: string, why: string): BadRequestError => new BadRequestError(`invalid hub REF '${text.slice(0, 200)}': ${why}`);

/** The instance id of a public base URL: its `host:port` (e.g. `127.0.0.1:3233`). */
export function instanceId(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BadRequestError(`invalid hub URL '${url.slice(0, 200)}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new BadRequestError(`invalid hub URL '${url.slice(0, 200)}': http or https only`);
  return u.host;
}

/** A base URL without its trailing slash, as instances announce themselves (`http://127.0.0.1:3233`). */
export function normalizeUrl(url: string): string {
  const id = instanceId(url);
  return `${new URL(url).protocol}//${id}`;
}

/** Parse a package or function REF (see the module comment). Throws a 400 that names what is wrong. */
export function parseRef(text: string): HubRef {
  if (typeof text !== 'string' || text.length === 0) throw bad(String(text), 'empty');
  if (text.length > MAX_REF) throw bad(text, `longer than ${MAX_REF} characters`);
  let rest = text.trim();
  let scheme: HubRef['scheme'];
  const m = URL_FORM.exec(rest);
  if (m) {
    scheme = m[1]!.toLowerCase() as 'http' | 'https';
    rest = `${m[2]}/${m[3]}`;
  }
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at > 0 && VERSION.test(rest.slice(at + 1))) {
    version = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const parts = rest.split('/');
  if (parts.length < 3 || parts.length > 4) throw bad(text, 'expected <host:port>/<owner>/<package>[/<action>][@<version>]');
  const [instance, owner, pkg, action] = parts as [string, string, string, string | undefined];
  if (!HOST.test(instance)) throw bad(text, `'${instance}' is no host:port`);
  for (const s of parts.slice(1)) if (!isEntityName(s)) throw bad(text, `'${s}' is no name`);
  return { instance: instance.toLowerCase(), ...(scheme ? { scheme } : {}), owner, package: pkg, ...(action !== undefined ? { action } : {}), ...(version ? { version } : {}) };
}

/** Parse a REF that must name a package (no action). */
export function parsePackageRef(text: string): HubRef {
  const r = parseRef(text);
  if (r.action !== undefined) throw bad(text, 'names a function; a package REF was expected');
  return r;
}

/** Parse a REF that must name a function (an action of a package). */
export function parseFunctionRef(text: string): FunctionRef {
  const r = parseRef(text);
  if (r.action === undefined) throw bad(text, 'names a package; a function REF (<host:port>/<owner>/<package>/<action>) was expected');
  return r as FunctionRef;
}

/** The REF's text: `host:port/owner/package[/action][@version]` (no scheme: the id form a search prints). */
export function formatRef(ref: HubRef): string {
  const path = [ref.instance, ref.owner, ref.package, ...(ref.action !== undefined ? [ref.action] : [])].join('/');
  return ref.version ? `${path}@${ref.version}` : path;
}

/** The package a function REF belongs to (same instance, owner, version). */
export function packageRefOf(ref: HubRef): HubRef {
  const { action: _a, ...pkg } = ref;
  return pkg;
}
