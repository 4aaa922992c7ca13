import { LRUCache } from 'lru-cache';
import type { Config } from '../../common/config.ts';
import { type Action, isBinding, type Package } from '../../common/entities.ts';
import { ConflictError, NotFoundError } from '../../common/errors.ts';
import { buildBundle, type Bundle, bundleZip, type HubExample, type HubParameter, hubSettings, type HubSettings } from '../../common/hub/manifest.ts';
import { formatRef, instanceId, normalizeUrl } from '../../common/hub/ref.ts';
import type { HubSummary as Summary } from '../../common/hub/types.ts';
import type { KeyValue } from '../../common/key-value.ts';
import type { ActionLimits } from '../../common/limits.ts';
import type { Logger } from '../../common/logger.ts';
import { isEntityName } from '../../common/names.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { DAY_MS, ExampleRunner, type Figures, usageOf } from './figures.ts';
import { sweepTrials, type TrialServices } from './trial.ts';

/**
 * This instance's hub catalog (the publisher side): the packages that carry `hub-publish:
 * true`, as summaries with their figures, as details, and as downloadable bundles. What it
 * shows of a package is its bundle's manifest (common/hub/manifest.ts: names and
 * descriptions, never parameter values) and the publisher's settings; a binding or an
 * unpublished package is not found, whatever the reason.
 */

export interface HubSelf {
  /** `host:port`, what REFs name this instance by. */
  id: string;
  url: string;
}

export type { HubSummary as Summary } from '../../common/hub/types.ts';

export interface DetailAction {
  name: string;
  kind: string;
  parameters: Array<Pick<HubParameter, 'name' | 'description'>>;
  annotations: KeyValue[];
  limits: ActionLimits;
  /** Only when the publisher shows code: the source, or `<binary N bytes>`. */
  code?: string;
}

export type Detail = Omit<Summary, 'actions'> & { actions: DetailAction[]; examples: HubExample[] };

/** A published package as read now, with its bundle. */
interface Entry {
  pkg: Package;
  settings: HubSettings;
  bundle: Bundle;
  updated: number;
}

export interface CatalogDeps {
  store: EntityStore;
  activator: TrialServices['activator'];
  config: Pick<Config, 'hubUrl' | 'hubCacheMs'>;
  log: Logger;
}

/** A read of what is not there (or is another kind of entity) is undefined; a store failure stays one (503). */
const absent = (e: unknown): undefined => {
  if (e instanceof NotFoundError || e instanceof ConflictError) return undefined;
  throw e;
};

/** How long the list of published packages is kept at most (a new one shows within this). */
const LIST_CACHE_MS = 10_000;
const PAGE = 200;

export class HubCatalog {
  private localUrl = '';
  private sweeping: Promise<unknown> = Promise.resolve();
  private readonly examples: ExampleRunner;
  /** Bundles by package, valid while the package's and its actions' versions are the same. */
  private readonly bundles = new LRUCache<string, { stamp: string; bundle: Bundle }>({ max: 1000 });
  private readonly figuresCache: LRUCache<string, Promise<Figures>>;
  private listCache: { at: number; list: Promise<{ entries: Entry[]; namespaces: string[] }> } | undefined;

  constructor(private readonly deps: CatalogDeps) {
    this.examples = new ExampleRunner({ store: deps.store, activator: deps.activator }, deps.log);
    this.figuresCache = new LRUCache({ max: 1000, ttl: Math.max(1, deps.config.hubCacheMs) });
  }

  /** The controller listens at `url`: this instance's URL unless SWIRL_HUB_URL names another. Trial namespaces a stopped controller left are swept. */
  listening(url: string): void {
    this.localUrl = url;
    this.sweeping = sweepTrials(this.deps.store, this.deps.log).then(
      (swept) => swept.length > 0 && this.deps.log.info({ swept }, 'hub: removed trial namespaces left by a stopped controller'),
      (err: unknown) => this.deps.log.warn({ err }, 'hub: could not sweep left trial namespaces'),
    );
  }

  self(): HubSelf {
    const url = normalizeUrl(this.deps.config.hubUrl ?? (this.localUrl || 'http://127.0.0.1'));
    return { id: instanceId(url), url };
  }

  /** Summaries of the published packages that match `q` (every word, in name, description, owner or action names). */
  async catalog(q: string | undefined, limit: number): Promise<Summary[]> {
    const { entries, namespaces } = await this.list();
    const words = (q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const hits = entries.filter((e) => {
      const text = [e.pkg.name, e.settings.description, e.bundle.manifest.package.owner, ...e.bundle.manifest.actions.map((a) => a.name)].join('\n').toLowerCase();
      return words.every((w) => text.includes(w));
    });
    return Promise.all(hits.slice(0, limit).map((e) => this.summary(e, namespaces)));
  }

  /** The package's detail; `version`, when given, must be the current one (only the current is kept). */
  async detail(owner: string, name: string, version?: string): Promise<Detail> {
    const e = await this.entry(owner, name);
    if (version !== undefined && version !== e.pkg.version) throw new NotFoundError(`${this.refOf(e, version)} is not kept: only the current version, ${e.pkg.version}, is.`);
    const { actions: _names, ...summary } = await this.summary(e, (await this.list()).namespaces);
    const files = e.bundle.files;
    const actions = e.bundle.manifest.actions.map((a): DetailAction => {
      const bytes = files[a.file]!;
      const code = a.binary ? `<binary ${bytes.length} bytes>` : Buffer.from(bytes).toString('utf8');
      return { name: a.name, kind: a.kind, parameters: a.parameters, annotations: a.annotations, limits: a.limits, ...(e.settings.codeVisible ? { code } : {}) };
    });
    return { ...summary, actions, examples: e.bundle.manifest.examples };
  }

  /** The package's bundle (to be served only when `downloadable`). */
  async bundle(owner: string, name: string): Promise<{ bundle: Bundle; downloadable: boolean; zip: () => Uint8Array }> {
    const e = await this.entry(owner, name);
    return { bundle: e.bundle, downloadable: e.settings.downloadable, zip: () => bundleZip(e.bundle) };
  }

  /** Stop running examples (the run in progress finishes and cleans up). */
  async close(): Promise<void> {
    await this.sweeping;
    await this.examples.close();
  }

  // -------------------------------------------------------------------------------------

  private refOf(e: Entry, version: string): string {
    return formatRef({ instance: this.self().id, owner: e.bundle.manifest.package.owner, package: e.pkg.name, version });
  }

  private async summary(e: Entry, namespaces: string[]): Promise<Summary> {
    const m = e.bundle.manifest;
    return {
      ref: m.ref,
      instance: this.self().id,
      owner: m.package.owner,
      name: m.package.name,
      version: m.package.version,
      description: m.package.description,
      kinds: [...new Set(m.actions.map((a) => a.kind))],
      license: m.package.license,
      digest: e.bundle.digest,
      actions: m.actions.map((a) => a.name),
      parameters: m.package.parameters,
      codeVisible: e.settings.codeVisible,
      downloadable: e.settings.downloadable,
      figures: await this.figures(e, namespaces),
      updated: e.updated,
    };
  }

  private async figures(e: Entry, namespaces: string[]): Promise<Figures> {
    const key = e.bundle.digest;
    let usage = this.figuresCache.get(key);
    if (!usage) {
      const owner = e.bundle.manifest.package.owner;
      const paths = e.bundle.manifest.actions.map((a) => `${owner}/${e.pkg.name}/${a.name}`);
      usage = usageOf(this.deps.store, namespaces, paths, Date.now() - 30 * DAY_MS).then((u) => ({
        invocations30d: u.invocations,
        namespaces30d: u.namespaces,
        successRate: u.successRate,
        p50Ms: u.p50Ms,
        examples: null,
      }));
      usage.catch(() => this.figuresCache.delete(key));
      if (this.deps.config.hubCacheMs > 0) this.figuresCache.set(key, usage);
    }
    return { ...(await usage), examples: this.examples.figures(e.bundle) };
  }

  /** A published package read now; not found when absent, unpublished or a binding. */
  private async entry(owner: string, name: string): Promise<Entry> {
    const notFound = new NotFoundError(`no published package ${owner}/${name} on this instance`);
    if (!isEntityName(owner) || !isEntityName(name)) throw notFound;
    const pkg = await this.deps.store.get('package', owner, name).catch(absent);
    if (!pkg || isBinding(pkg) || !hubSettings(pkg).published) throw notFound;
    return this.build(pkg);
  }

  private async build(pkg: Package): Promise<Entry> {
    const { store } = this.deps;
    const path = `${pkg.namespace}/${pkg.name}`;
    const briefs = [];
    for (let skip = 0; ; skip += PAGE) {
      const page = await store.list('action', { namespace: pkg.namespace, pkg: pkg.name }, { limit: PAGE, skip });
      briefs.push(...page);
      if (page.length < PAGE) break;
    }
    const stamp = JSON.stringify([pkg.version, pkg.updated, this.self().id, ...briefs.map((b) => [b.name, b.version, b.updated])].sort());
    const updated = Math.max(pkg.updated, ...briefs.map((b) => b.updated));
    const settings = hubSettings(pkg);
    const cached = this.bundles.get(path);
    if (cached?.stamp === stamp) return { pkg, settings, bundle: cached.bundle, updated };
    const actions: Action[] = await Promise.all(briefs.map((b) => store.get('action', path, b.name)));
    const bundle = buildBundle(this.self().id, pkg, actions);
    this.bundles.set(path, { stamp, bundle });
    return { pkg, settings, bundle, updated };
  }

  /** Every published package of this instance (cached briefly), and the namespaces whose records may count. */
  private list(): Promise<{ entries: Entry[]; namespaces: string[] }> {
    const ttl = Math.min(LIST_CACHE_MS, this.deps.config.hubCacheMs);
    if (this.listCache && Date.now() - this.listCache.at < ttl) return this.listCache.list;
    const list = this.scan();
    list.catch(() => (this.listCache = undefined));
    this.listCache = { at: Date.now(), list };
    return list;
  }

  private async scan(): Promise<{ entries: Entry[]; namespaces: string[] }> {
    const { store } = this.deps;
    const namespaces = [...new Set((await store.listSubjects()).flatMap((s) => s.namespaces.map((n) => n.name)))];
    const entries: Entry[] = [];
    for (const namespace of namespaces) {
      for (let skip = 0; ; skip += PAGE) {
        const page = await store.list('package', { namespace }, { limit: PAGE, skip });
        for (const brief of page) {
          if (!hubSettings(brief).published || (brief.binding && 'name' in brief.binding)) continue;
          const pkg = await store.get('package', namespace, brief.name).catch(absent);
          if (pkg && !isBinding(pkg)) entries.push(await this.build(pkg));
        }
        if (page.length < PAGE) break;
      }
    }
    entries.sort((a, b) => b.updated - a.updated);
    return { entries, namespaces };
  }
}
