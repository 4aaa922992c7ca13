import { silentLogger } from '../../common/logger.ts';
import { Invoker } from '../../invoker/invoker.ts';
import { observeInvoker } from '../../invoker/observability.ts';
import { InvokerService } from '../../invoker/service.ts';
import { type FactoryName, type FactoryOptions, makeFactory } from './invoker-fixtures.ts';
import { startTestServer, type TestServer } from './server.ts';

/**
 * A controller and one invoker in this process on standalone's bus (local, unless `env` names
 * another), on a fresh embedded store; as in standalone, their metrics share one registry.
 */
export interface TestStack extends TestServer {
  invoker: Invoker;
  service: InvokerService;
}

export async function startTestStack(factory: FactoryName, env: Record<string, string> = {}, factoryOptions: Omit<FactoryOptions, 'apiHost'> & { invokerId?: string } = {}): Promise<TestStack> {
  const server = await startTestServer({ SWIRL_PREWARM: '[]', ...env });
  const { invokerId, ...opts } = factoryOptions;
  const observed = await observeInvoker({ invokerId: '0', userEvents: server.config.userEvents }, server.infra.bus, server.registry, silentLogger);
  const invoker = await Invoker.start(server.config, server.opened.store, silentLogger, { factory: await makeFactory(factory, invokerId, { ...opts, apiHost: server.url }), apiHost: server.url, metrics: observed.metrics });
  const service = await InvokerService.start({ id: 0, bus: server.infra.bus, health: server.infra.health, store: server.opened.store, invoker, log: silentLogger, observers: observed.observers, metrics: observed.metrics });
  observed.metrics.watchState(service);
  await waitUntilUp(server.url, 0);
  const closeInvoker = async () => {
    await service.close();
    await invoker.close();
    await observed.flush();
  };
  return {
    ...server,
    invoker,
    service,
    async stop() {
      await closeInvoker();
      await server.stop();
    },
    async destroy() {
      await closeInvoker();
      await server.destroy();
    },
  };
}

/** Wait until the controller sees the invoker `up` (its health monitor polls once a second). */
export async function waitUntilUp(url: string, id: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const states = (await (await fetch(`${url}/invokers`)).json()) as Record<string, string>;
    if (states[`invoker${id}`] === 'up') return;
    if (Date.now() > deadline) throw new Error(`invoker${id} is not up after ${ms} ms: ${JSON.stringify(states)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
