/**
 * Run as a separate process by the store tests: open the embedded store on the data
 * directory given as the first argument, print what it holds as one JSON line, and stop.
 * Usage: node --import tsx test/support/embedded-store-child.ts <dataDir> <namespace>
 */
import { CouchStore } from '../../common/store/couch-store.ts';
import { EmbeddedCouch } from '../../common/store/embedded-couch.ts';

const [dataDir, namespace] = process.argv.slice(2);
if (!dataDir || !namespace) throw new Error('usage: embedded-store-child.ts <dataDir> <namespace>');
const couch = await EmbeddedCouch.start(dataDir);
try {
  const store = new CouchStore(couch.url);
  await store.init();
  const subject = await store.subjectByNamespace(namespace);
  const actions = await store.list('action', { namespace }, { limit: 10, skip: 0 });
  const activations = await store.countActivations(namespace, {});
  process.stdout.write(JSON.stringify({ subject, actions: actions.map((a) => a.name), activations }) + '\n');
} finally {
  await couch.stop();
}
