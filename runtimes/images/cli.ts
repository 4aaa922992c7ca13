/**
 * `npm run images [-- --force] [kind…]`: build the runtime images that are missing or stale,
 * showing progress.
 */
import Docker from 'dockerode';
import { ensureImages } from './ensure.ts';

const args = process.argv.slice(2);
const force = args.includes('--force');
const kinds = args.filter((a) => !a.startsWith('-'));
const started = Date.now();
try {
  const docker = new Docker();
  await docker.ping();
  await ensureImages(docker, { force, kinds: kinds.length ? kinds : undefined, onProgress: (line) => console.log(line) });
  console.log(`runtime images ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (e) {
  console.error(`runtime images: ${(e as Error).message}`);
  process.exit(1);
}
