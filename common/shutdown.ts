import type { Logger } from './logger.ts';

/**
 * Graceful stop for a process entry: on the first SIGINT or SIGTERM, run `steps` in order
 * (each one's failure is logged and the rest still run), then exit 0. `describe` adds
 * fields to the "shutting down" log line (e.g. what is still in flight).
 */
export function onShutdown(log: Logger, steps: Array<() => Promise<unknown>>, describe: () => Record<string, unknown> = () => ({})): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, ...describe() }, 'shutting down');
    for (const step of steps) await step().catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'error while shutting down'));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** The shared ending of a process entry: a start-up failure is printed and exits 1. */
export function startOrExit(what: string, main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    console.error(`${what} failed to start:`, e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
