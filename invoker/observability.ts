import type { MessageBus } from '../common/bus.ts';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import type { Registry } from '../common/metrics.ts';
import { InvokerMetrics } from './metrics.ts';
import type { ActivationObserver } from './observed.ts';
import { UserEvents } from './user-events.ts';

export interface InvokerObservability {
  metrics: InvokerMetrics;
  /** For InvokerService: metrics, and user events when configured. */
  observers: ActivationObserver[];
  /** Sends what user events are pending (at shutdown). */
  flush(): Promise<void>;
}

/** An invoker's metrics in `registry`, and its user events on `bus` when `userEvents` is on. */
export async function observeInvoker(config: Pick<Config, 'invokerId' | 'userEvents'>, bus: Pick<MessageBus, 'produce' | 'ensureTopics'>, registry: Registry, log: Logger): Promise<InvokerObservability> {
  const metrics = new InvokerMetrics(registry);
  const events = config.userEvents === 'on' ? await UserEvents.start(bus, `invoker${config.invokerId}`, log) : undefined;
  return {
    metrics,
    observers: [metrics.activation, ...(events ? [events.activation] : [])],
    flush: async () => events?.flush(),
  };
}
