/**
 * An invoker that dies: makes a container with the named factory, prints it as one JSON
 * line, and waits to be killed (tests SIGKILL it to leave the container behind).
 *   node --import tsx test/support/orphan-maker.ts <docker|process> <invokerId> <network> <stateDir> [installation]
 */
import { runtimeImage } from '../../runtimes/index.ts';
import { type FactoryName, makeFactory } from './invoker-fixtures.ts';

const [name, invokerId, network, stateDir, installation] = process.argv.slice(2) as [FactoryName, string, string, string, string | undefined];
const factory = await makeFactory(name, invokerId, { network, stateDir, installation });
await factory.init();
const c = await factory.create({ kind: 'nodejs:20', image: runtimeImage('nodejs:20'), memoryMb: 128, name: 'orphan' });
process.stdout.write(JSON.stringify({ id: c.id, address: c.address, token: c.token }) + '\n');
setInterval(() => undefined, 60_000);
