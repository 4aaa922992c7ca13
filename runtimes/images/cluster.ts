import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { artifactFiles } from '../../build/artifact.js';
import { PACKAGE_VERSION, RUNTIMES_DIR } from '../paths.ts';
import { nodeBase, redisBase } from './bases.ts';
import { defaultBaseOf, type ImageRecipe } from './ensure.ts';
import { RootfsPlan } from './rootfs.ts';

/** The repository root. */
const ROOT = resolve(RUNTIMES_DIR, '..');
/** What the processes load: everything but the tests, benchmarks and generated files. */
const SOURCES = ['common', 'controller', 'loadbalancer', 'invoker', 'runtimes', 'cli', 'bin'];
const FILES = ['package.json', 'package-lock.json', 'tsconfig.json'];

/** The images of a cluster (deploy/<name>/Dockerfile): controller and invoker, and the Redis that CI runs them on. */
export const CLUSTER_IMAGES = ['controller', 'invoker', 'redis'] as const;
export type ClusterImage = (typeof CLUSTER_IMAGES)[number];

export const clusterImage = (name: ClusterImage): string => `swirl/${name}:${PACKAGE_VERSION}`;

/**
 * The application as the controller and invoker images hold it: under `app/`, the built
 * artifact (dist/: what they run, built first when stale) and the sources (what its source
 * maps name, and what the Dockerfile's load check imports), with the production dependencies
 * (the packages package-lock.json does not mark dev, as installed here); and an empty `data/`.
 */
async function appContext(): Promise<RootfsPlan> {
  const plan = new RootfsPlan();
  for (const f of await artifactFiles(['controller', 'invoker', 'admin'])) plan.addHostAs(join(ROOT, f), `app/${f}`);
  for (const f of FILES) plan.addHostAs(join(ROOT, f), `app/${f}`);
  for (const dir of SOURCES) plan.addTreeAs(join(ROOT, dir), `app/${dir}`, (rel) => rel === 'dist' || rel.endsWith('.log'));
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  for (const [path, pkg] of Object.entries(lock.packages)) {
    // the root entry is the project; optional packages for other platforms are not installed
    if (!path || pkg.dev || !existsSync(join(ROOT, path))) continue;
    plan.addTreeAs(join(ROOT, path), `app/${path}`, (rel) => rel === 'node_modules' || rel === '.bin');
  }
  plan.addDir('data', 0o755);
  return plan;
}

/** How to build a cluster image (for ensure.ts's builder): its Dockerfile with the application, or alone. */
export function clusterRecipe(name: ClusterImage): ImageRecipe {
  const dockerfile = join(ROOT, 'deploy', name, 'Dockerfile');
  return {
    tag: clusterImage(name),
    labels: { 'swirl.image': name },
    localBase: name === 'redis' ? redisBase : nodeBase,
    async context() {
      const text = readFileSync(dockerfile);
      const plan = name === 'redis' ? new RootfsPlan() : await appContext();
      plan.addFile('Dockerfile', text.toString());
      return { entries: plan.list(), hash: plan.fingerprint(), dockerfile: 'Dockerfile', defaultBase: defaultBaseOf(`deploy/${name}/Dockerfile`, text.toString()) };
    },
  };
}
