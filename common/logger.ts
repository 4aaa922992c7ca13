import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout. Children carry `tid` (transaction id) and `component`. */
export function createLogger(level: string, component: string): Logger {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything; for tests and tools that print their own output. */
export const silentLogger: Logger = pino({ level: 'silent' });
