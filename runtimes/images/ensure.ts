import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { bundleFile, type BundleName, ensureBundle } from '../build.ts';
import { runtimeImage } from '../kinds.ts';
import { RUNTIMES_DIR } from '../paths.ts';
import { type LocalBase, nodeBase, pythonBase } from './bases.ts';
import { followJson } from './progress.ts';
import { type TarEntry, tarSize, tarStream } from './tar.ts';

export interface EnsureImagesOptions {
  /** Kinds to build (default: every runtime kind). */
  kinds?: string[];
  /** Rebuild even what is up to date (local base images included). */
  force?: boolean;
  /** One line per step: what is built, the Dockerfile's output, sizes and times. */
  onProgress?: (line: string) => void;
}

/** Label with the hash of an image's build context (Dockerfile and proxy): a different hash means stale. */
export const HASH_LABEL = 'swirl.runtime.hash';
/** Label of a base image made from host files: identity of those files (inherited by the runtime image). */
export const FINGERPRINT_LABEL = 'swirl.base.fingerprint';

/**
 * How to build one image: its tag, its build context (a Dockerfile starting `ARG BASE=…` and
 * what it copies) with a hash that says when the image is stale, and the base to make from
 * this host's files where `BASE` cannot be had.
 */
export interface ImageRecipe {
  tag: string;
  /** Labels besides the hash (e.g. the runtime kind). */
  labels: Record<string, string>;
  context(): Promise<BuildContext>;
  localBase: () => LocalBase;
}

export interface BuildContext {
  entries: TarEntry[];
  hash: string;
  /** Path of the Dockerfile in the context. */
  dockerfile: string;
  /** The Dockerfile's `ARG BASE=` default. */
  defaultBase: string;
}

/** The `ARG BASE=<image>` default of a Dockerfile. */
export function defaultBaseOf(dockerfile: string, text: string): string {
  const base = /^ARG BASE=(\S+)/m.exec(text)?.[1];
  if (!base) throw new Error(`${dockerfile} has no ARG BASE=<image>`);
  return base;
}

interface RuntimeBuild {
  /** Folder of its Dockerfile under runtimes/. */
  dir: string;
  /** The files the Dockerfile copies (the proxy, modules for actions) and where it expects each in the context (runtimes/). */
  files: () => Promise<Array<{ file: string; at: string }>>;
  localBase: () => LocalBase;
}

const bundled = (...names: BundleName[]) => () => Promise.all(names.map(async (name) => ({ file: await ensureBundle(name), at: `dist/${bundleFile(name)}` })));

const BUILDS: Record<string, RuntimeBuild> = {
  'nodejs:20': { dir: 'nodejs', files: bundled('nodejs', 'openwhisk'), localBase: nodeBase },
  'python:3': { dir: 'python', files: async () => [{ file: join(RUNTIMES_DIR, 'python', 'proxy.py'), at: 'python/proxy.py' }], localBase: pythonBase },
  stdio: { dir: 'stdio', files: bundled('stdio'), localBase: nodeBase },
};

/** Build output lines that say nothing about the image. */
const DOCKER_CHATTER = /^\s*(---> Running in|Removing intermediate container)/;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

async function inspect(docker: Dockerode, image: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(image).inspect();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
}

/** A runtime image: its build context is a subset of runtimes/ (the Dockerfile and the proxy). */
export function runtimeRecipe(kind: string): ImageRecipe {
  const build = BUILDS[kind]!;
  return {
    tag: runtimeImage(kind),
    labels: { 'swirl.runtime.kind': kind },
    localBase: build.localBase,
    async context() {
      const dockerfile = `${build.dir}/Dockerfile`;
      const text = readFileSync(join(RUNTIMES_DIR, dockerfile));
      const files = (await build.files()).map(({ file, at }) => ({ at, data: readFileSync(file), mtime: statSync(file).mtimeMs }));
      const mtime = Math.max(...files.map((f) => f.mtime));
      const entries: TarEntry[] = [
        { type: 'file', path: dockerfile, mode: 0o644, mtime, data: text },
        ...files.map((f): TarEntry => ({ type: 'file', path: f.at, mode: 0o644, mtime: f.mtime, data: f.data })),
      ];
      const hash = createHash('sha256').update(text);
      for (const f of files) hash.update('\0').update(f.data);
      return { entries, hash: hash.digest('hex').slice(0, 16), defaultBase: defaultBaseOf(`runtimes/${dockerfile}`, text.toString()), dockerfile };
    },
  };
}

/** Pull an image; false when it cannot be had (no registry, no network, unknown image). */
export async function tryPull(docker: Dockerode, image: string, log: (l: string) => void): Promise<boolean> {
  try {
    const stream = (await docker.pull(image)) as NodeJS.ReadableStream;
    await followJson(stream, (evt) => {
      if (evt.status && !evt.progressDetail?.total) log(`  ${evt.id ? `${evt.id}: ` : ''}${evt.status}`);
    }, 60_000);
    return true;
  } catch (e) {
    log(`${image} cannot be pulled: ${(e as Error).message.trim().split('\n')[0]}`);
    return false;
  }
}

/** Build one ensureImages call's work: bases are shared between kinds (nodejs and stdio). */
class ImageBuilder {
  private readonly bases = new Map<string, Promise<string>>();
  private readonly localBases = new Map<() => LocalBase, LocalBase>();

  constructor(
    private readonly docker: Dockerode,
    private readonly force: boolean,
    private readonly log: (line: string) => void,
  ) {}

  async build(recipe: ImageRecipe): Promise<void> {
    const tag = recipe.tag;
    const context = await recipe.context();
    const current = await inspect(this.docker, tag);
    const labels = current?.Config?.Labels ?? {};
    let reason = !current ? 'missing' : labels[HASH_LABEL] !== context.hash ? 'its Dockerfile or what it copies changed' : 'forced';
    if (!this.force && current && labels[HASH_LABEL] === context.hash) {
      const fingerprint = labels[FINGERPRINT_LABEL];
      if (!fingerprint || fingerprint === this.localBase(recipe).plan.fingerprint()) return this.log(`${tag}: up to date`);
      reason = 'the host files of its base image changed';
    }
    const started = Date.now();
    this.log(`${tag}: building (${reason})`);
    const base = await this.base(context.defaultBase, recipe);
    const stream = await this.docker.buildImage(tarStream(context.entries), {
      t: tag,
      dockerfile: context.dockerfile,
      buildargs: { BASE: base },
      labels: { [HASH_LABEL]: context.hash, ...recipe.labels },
      rm: true,
      forcerm: true,
      nocache: this.force,
    });
    await followJson(stream, (evt) => {
      for (const line of String(evt.stream ?? '').split('\n')) if (line.trim() && !DOCKER_CHATTER.test(line)) this.log(`  ${line.trimEnd()}`);
    });
    const built = await inspect(this.docker, tag);
    this.log(`${tag}: built in ${seconds(started)} on ${base}, image ${mb(built?.Size ?? 0)}`);
    if (current && built) await this.removeIfDangling(current.Id, built.Id);
  }

  /** The image to build on: the Dockerfile's BASE when present or pullable, else a base made from host files. */
  private base(wanted: string, recipe: ImageRecipe): Promise<string> {
    let pending = this.bases.get(wanted);
    if (!pending) {
      pending = this.resolveBase(wanted, recipe);
      this.bases.set(wanted, pending);
    }
    return pending;
  }

  private async resolveBase(wanted: string, recipe: ImageRecipe): Promise<string> {
    if (await inspect(this.docker, wanted)) return wanted;
    if (await tryPull(this.docker, wanted, this.log)) return wanted;
    const local = this.localBase(recipe);
    this.log(`${wanted} is not available: building on ${local.image}, made from this host's files`);
    await this.importBase(local);
    return local.image;
  }

  /** The plan of a recipe's local base, made once per call (images on the same base share one). */
  private localBase(recipe: ImageRecipe): LocalBase {
    let base = this.localBases.get(recipe.localBase);
    if (!base) {
      base = recipe.localBase();
      this.localBases.set(recipe.localBase, base);
    }
    return base;
  }

  private async importBase(base: LocalBase): Promise<void> {
    const fingerprint = base.plan.fingerprint();
    const current = await inspect(this.docker, base.image);
    if (!this.force && current?.Config?.Labels?.[FINGERPRINT_LABEL] === fingerprint) return this.log(`${base.image}: up to date`);
    const started = Date.now();
    const entries = base.plan.list();
    this.log(`${base.image}: importing a root filesystem of ${entries.length} entries, ${mb(tarSize(entries))} (${base.description})`);
    const [repo, tag] = base.image.split(':');
    // `changes` is sent as repeated query parameters, which the Engine API reads as a list
    const options = { repo, tag, changes: [...base.changes, `LABEL ${FINGERPRINT_LABEL}=${fingerprint}`] };
    const stream = await this.docker.importImage(tarStream(entries), options);
    await followJson(stream, () => undefined);
    const imported = await inspect(this.docker, base.image);
    this.log(`${base.image}: imported in ${seconds(started)}, image ${mb(imported?.Size ?? 0)}`);
    if (current && imported) await this.removeIfDangling(current.Id, imported.Id);
  }

  /** The image a tag pointed at before a rebuild is garbage when nothing else names it (and no container uses it). */
  private async removeIfDangling(old: string, now: string): Promise<void> {
    if (old === now) return;
    const info = await inspect(this.docker, old);
    if (info && (info.RepoTags ?? []).filter((t) => t !== '<none>:<none>').length === 0) await this.docker.getImage(old).remove().catch(() => undefined);
  }
}

/**
 * Build the runtime images that are missing or stale (their hash label differs from the
 * current Dockerfile and proxy, or the host files of their local base changed). Each
 * Dockerfile is built on its `BASE` when that image is present or can be pulled; where it
 * cannot (no registry), on a base image imported from this host's files.
 */
export function ensureImages(docker: Dockerode, opts: EnsureImagesOptions = {}): Promise<void> {
  return buildRecipes(docker, (opts.kinds ?? Object.keys(BUILDS)).map(runtimeRecipe), opts);
}

/** Build these images where missing or stale, as ensureImages does; one that fails does not stop the others. */
export async function buildRecipes(docker: Dockerode, recipes: ImageRecipe[], opts: Omit<EnsureImagesOptions, 'kinds'> = {}): Promise<void> {
  const log = opts.onProgress ?? (() => undefined);
  const builder = new ImageBuilder(docker, !!opts.force, log);
  const failed: string[] = [];
  for (const recipe of recipes) {
    // a caller that asks while the same image is being built (say, at start-up and for an invoke) waits for that build
    let pending = opts.force ? undefined : inflight.get(recipe.tag);
    if (pending) log(`${recipe.tag}: being checked or built by another caller, waiting`);
    else {
      pending = builder.build(recipe).finally(() => inflight.delete(recipe.tag));
      inflight.set(recipe.tag, pending);
    }
    try {
      await pending;
    } catch (e) {
      // one image that cannot be built does not keep the others from being built
      log(`${recipe.tag}: failed: ${(e as Error).message}`);
      failed.push(`${recipe.tag}: ${(e as Error).message}`);
    }
  }
  if (failed.length) throw new Error(`images could not be built: ${failed.join('; ')}`);
}

const inflight = new Map<string, Promise<void>>();

/**
 * Check that the runtime images exist, building nothing: for an invoker in a container,
 * whose own files say nothing about the Docker host's (the images are built there by
 * `npm run images`). Throws naming the missing ones.
 */
export async function requireImages(docker: Dockerode, kinds: string[] = Object.keys(BUILDS)): Promise<void> {
  const missing: string[] = [];
  for (const kind of kinds) if (!(await inspect(docker, runtimeImage(kind)))) missing.push(runtimeImage(kind));
  if (missing.length) throw new Error(`runtime images missing on the Docker host: ${missing.join(', ')} (build them there with npm run images)`);
}
