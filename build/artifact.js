// @ts-check
/**
 * The built artifact: each entry point bundled into dist/<name>.js (node_modules packages
 * left out, a source map beside it), built on demand when a source changed. What
 * `npm start`, `npm run controller|invoker|admin` and the `swirl` command run; tests and
 * development run the sources through tsx.
 *
 * `node build/artifact.js` (npm run build) builds them now.
 */
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundle, fresh, fromRoot, outputOf, outputsOf } from './bundle.js';

/** Each entry point, by the name of its bundle. */
export const ENTRIES = {
  standalone: 'controller/standalone.ts',
  controller: 'controller/main.ts',
  invoker: 'invoker/main.ts',
  admin: 'cli/admin.ts',
  swirl: 'cli/main.ts',
};
/** @typedef {keyof typeof ENTRIES} ArtifactName */

/** Where the artifact is written (git-ignored); one level under the root, as the sources are, so `import.meta.url`-relative paths hold. */
export const DIST = fromRoot('dist');

/**
 * One build for all of them: what they share, and what they import only when it runs (the
 * admin commands' store, the Kafka bus), in chunks of their own, so that `swirl --version`
 * loads neither the store's packages nor the controller's.
 * @type {import('./bundle.js').Bundle}
 */
const RECIPE = {
  name: 'swirl',
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, source]) => [name, fromRoot(source)])),
  outdir: DIST,
  format: 'esm',
  inputs: fromRoot('dist', 'inputs.json'),
  recipe: [fileURLToPath(import.meta.url)],
  external: true,
  sourcemap: true,
  splitting: true,
};

/** @param {string} name @returns {name is ArtifactName} */
const isArtifact = (name) => Object.hasOwn(ENTRIES, name);

/** Build the artifact now. */
export const buildArtifact = () => bundle(RECIPE);

/**
 * dist/<name>.js, built first (saying so on stderr) when it is missing or a source changed.
 * @param {ArtifactName} name
 * @returns {Promise<string>} its path
 */
export async function ensureArtifact(name) {
  if (!fresh(RECIPE, name)) {
    process.stderr.write('swirl: building dist/ from the sources (changed since the last build)…\n');
    try {
      await buildArtifact();
    } catch (e) {
      // esbuild's message names the file, line and column: the rest of a stack says nothing here
      fail(`the build of dist/ failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return outputOf(RECIPE, name);
}

/** @param {string} message @returns {never} */
function fail(message) {
  process.stderr.write(`swirl: ${message}\n`);
  process.exit(1);
}

/**
 * The files under dist/ that entry points load (their bundles, chunks and source maps), built
 * first when stale: what an image of them holds.
 * @param {ArtifactName[]} names
 * @returns {Promise<string[]>} paths from the root
 */
export async function artifactFiles(names) {
  for (const name of names) await ensureArtifact(name);
  return [...new Set(names.flatMap((name) => outputsOf(RECIPE, name).flatMap((file) => [file, `${file}.map`])))];
}

/**
 * Load dist/<name>.js (built first when stale) with stack traces that name the .ts lines.
 * @param {ArtifactName} name
 * @returns {Promise<Record<string, unknown>>} its exports
 */
export async function importArtifact(name) {
  const path = await ensureArtifact(name);
  process.setSourceMapsEnabled(true);
  return import(pathToFileURL(path).href);
}

/**
 * `node build/artifact.js run <name> [args...]`: run an entry point from its bundle, as
 * `node dist/<name>.js [args...]` would (what it throws, Node reports as for any program).
 * `node build/artifact.js` builds them all now.
 * @param {string[]} argv
 */
async function main(argv) {
  const usage = `usage: node build/artifact.js [run <${Object.keys(ENTRIES).join('|')}> [args...]]`;
  if (argv[0] === 'run') {
    const name = argv[1] ?? '';
    if (!isArtifact(name)) fail(`no entry point named ${name}: ${usage}`);
    // the entry point sees its own arguments, as it would when run directly
    process.argv.splice(1, 3, outputOf(RECIPE, name));
    await importArtifact(name);
    return;
  }
  if (argv.length) fail(usage);
  const started = performance.now();
  await buildArtifact().catch((e) => fail(e instanceof Error ? e.message : String(e)));
  process.stdout.write(`built ${Object.keys(ENTRIES).map((n) => `dist/${n}.js`).join(', ')} (${Math.round(performance.now() - started)} ms)\n`);
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) await main(process.argv.slice(2));
