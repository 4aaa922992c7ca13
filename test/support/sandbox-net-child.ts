/**
 * An invoker that dies holding sandbox networks: attaches `count` namespaces for the
 * installation, prints them as one JSON line, and waits to be killed (tests SIGKILL it to
 * leave them behind).
 *   node --import tsx test/support/sandbox-net-child.ts <installation> <stateDir> <count>
 */
import { silentLogger } from '../../common/logger.ts';
import { SandboxNetwork } from '../../invoker/factory/sandbox-net.ts';

const [installation, stateDir, count] = process.argv.slice(2) as [string, string, string];
const net = new SandboxNetwork({ installation, outbound: true, log: silentLogger, stateDir, ready: 0 });
await net.init();
const attached = [];
for (let i = 0; i < Number(count); i++) attached.push(await net.attach(`orphan-${i}`));
process.stdout.write(JSON.stringify(attached.map((a) => ({ netns: a.netns, address: a.address, gateway: a.gateway }))) + '\n');
setInterval(() => undefined, 60_000);
