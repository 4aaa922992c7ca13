/**
 * Run as a separate process by the store tests: write to the lmdb store in the directory
 * given as the first argument, without end, printing a line for each write once its promise
 * resolved (an action `a<i>`, then a batch of two activation records), until it is killed.
 * Usage: node --import tsx test/support/lmdb-writer-child.ts <dir> <namespace>
 */
import { LmdbStore } from '../../common/store/lmdb-store.ts';
import { sampleAction, sampleActivation } from './store-fixtures.ts';

const [dir, namespace] = process.argv.slice(2);
if (!dir || !namespace) throw new Error('usage: lmdb-writer-child.ts <dir> <namespace>');
const store = LmdbStore.open(dir);
for (let i = 0; ; i++) {
  await store.put('action', sampleAction({ namespace, name: `a${i}` }));
  const records = [0, 1].map((j) => sampleActivation({ namespace, name: `a${i}`, start: 1_700_000_000_000 + i * 2 + j }));
  await store.putActivations(records);
  process.stdout.write(`${i} ${records.map((r) => r.activationId).join(' ')}\n`);
}
