import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';
import type * as PinoPretty from 'pino-pretty';
import { lazyPackage } from './lazy-package.ts';

export type { Logger };

/** pino-pretty, loaded only for a terminal. */
const pretty = lazyPackage<typeof PinoPretty>('pino-pretty');

/**
 * What a log line says of the work it belongs to, carried implicitly along the async path of
 * that work — the HTTP request, the bus message, the activation — and added to every line
 * logged on it (the transaction id, and inside an activation its id, namespace and action).
 */
export interface LogContext {
  tid?: string;
  activationId?: string;
  namespace?: string;
  action?: string;
}

const context = new AsyncLocalStorage<LogContext>();

/** Run `fn` with `fields` added to the log context of everything it does. */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

/** The log context of the work running now. */
export const logContext = (): LogContext | undefined => context.getStore();

/** Each logger's root: a component's logger is made from it, so `component` is never repeated. */
const roots = new WeakMap<Logger, Logger>();

/**
 * Structured logs on stdout: JSON lines when stdout is not a terminal (a file, a pipe, a
 * container runtime's log), readable lines on a terminal. Every line carries the log context
 * of the work it was logged in (withLogContext) and `component`; errors go under `err`
 * with their stack.
 */
export function createLogger(level: string, component: string, out: NodeJS.WriteStream = process.stdout): Logger {
  const options = {
    level,
    base: {},
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => context.getStore() ?? {},
    // what HTTP clients hang on their errors (the request with its URL and headers) can hold the store's credentials
    redact: { paths: ['err.request', 'err.config', 'err.response', 'err.options', 'err.headers'], remove: true },
  };
  const root = out.isTTY
    ? pino(options, pretty().default({ destination: out, sync: true, colorize: out.hasColors?.() ?? false, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'component', messageFormat: '{component}: {msg}' }))
    : out === process.stdout
      ? pino(options)
      : pino(options, out);
  return componentLogger(root, component);
}

/** The logger of another component, beside `log`'s (not nested in it). */
export function componentLogger(log: Logger, component: string): Logger {
  const root = roots.get(log) ?? log;
  const child = root.child({ component });
  roots.set(child, root);
  return child;
}

/**
 * A line for the person who started the server (banner, progress): on stdout when it is a
 * terminal, else on stderr, so that a non-terminal stdout carries JSON lines only.
 */
export function announce(line: string): void {
  (process.stdout.isTTY ? process.stdout : process.stderr).write(`${line}\n`);
}

/** A logger that drops everything; for tests and tools that print their own output. */
export const silentLogger: Logger = pino({ level: 'silent' });
