/**
 * `npm run images [-- --force] [name…]`: build the images that are missing or stale, showing
 * progress: the runtime images (by kind: nodejs:20, python:3, stdio), then the cluster's
 * (controller, invoker, redis). Names pick some of them.
 */
import Docker from 'dockerode';
import { RUNTIME_KINDS } from '../kinds.ts';
import { CLUSTER_IMAGES, type ClusterImage, clusterRecipe } from './cluster.ts';
import { buildRecipes, ensureImages } from './ensure.ts';

const args = process.argv.slice(2);
const force = args.includes('--force');
const names = args.filter((a) => !a.startsWith('-'));
const unknown = names.filter((n) => !RUNTIME_KINDS.includes(n) && !CLUSTER_IMAGES.includes(n as ClusterImage));
if (unknown.length) {
  console.error(`images: unknown ${unknown.join(', ')} (known: ${[...RUNTIME_KINDS, ...CLUSTER_IMAGES].join(', ')})`);
  process.exit(2);
}
const kinds = names.length ? RUNTIME_KINDS.filter((k) => names.includes(k)) : [...RUNTIME_KINDS];
const cluster = names.length ? CLUSTER_IMAGES.filter((n) => names.includes(n)) : [...CLUSTER_IMAGES];
const started = Date.now();
const onProgress = (line: string) => console.log(line);
try {
  const docker = new Docker();
  await docker.ping();
  if (kinds.length) await ensureImages(docker, { force, kinds, onProgress });
  if (cluster.length) await buildRecipes(docker, cluster.map(clusterRecipe), { force, onProgress });
  console.log(`images ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (e) {
  console.error(`images: ${(e as Error).message}`);
  process.exit(1);
}
