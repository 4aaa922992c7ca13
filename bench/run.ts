/**
 * `npm run bench [-- store invoker invoke model input startup metrics lambda]`: measures swirl on this machine and prints one table.
 * Bounded loops against 127.0.0.1 and containers the run creates; no assertions —
 * figures are for reading against the targets printed beside them.
 */
import { benchInput } from './input.ts';
import { benchInvoke } from './invoke.ts';
import { benchInvoker } from './invoker.ts';
import { benchLambda } from './lambda.ts';
import { benchMetrics } from './metrics.ts';
import { benchModel } from './model.ts';
import { benchStartup } from './startup.ts';
import { benchStoreAndApi } from './store-api.ts';
import { benchEntityGets } from './entity-gets.ts';
import { printTable } from './table.ts';

const sections: Record<string, () => Promise<void>> = { store: () => benchStoreAndApi().then(benchEntityGets), invoker: benchInvoker, invoke: benchInvoke, model: benchModel, input: benchInput, startup: benchStartup, metrics: benchMetrics, lambda: benchLambda };
const wanted = process.argv.slice(2).filter((a) => a in sections);
for (const name of wanted.length ? wanted : Object.keys(sections)) {
  process.stdout.write(`${name}… `);
  await sections[name]!();
}
process.stdout.write('\n\n');
printTable();
