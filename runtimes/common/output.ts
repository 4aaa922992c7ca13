import { LOG_SENTINEL } from '../../common/container.ts';

type Stream = NodeJS.WriteStream;

/** Whether the last byte written to each stream ended a line. */
const atLineStart = new WeakMap<Stream, boolean>();

/**
 * Watch what is written to stdout and stderr (by the action or forwarded from a child),
 * so that the end-of-activation sentinel always lands on a line of its own.
 */
export function trackOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (atLineStart.has(stream)) continue;
    atLineStart.set(stream, true);
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? chunk : undefined;
      if (text !== undefined && text.length > 0) atLineStart.set(stream, typeof text === 'string' ? text.endsWith('\n') : text[text.length - 1] === 10);
      return write(chunk, ...rest);
    }) as Stream['write'];
  }
}

/**
 * Mark the end of an activation's logs: the sentinel line on stdout and on stderr, resolved
 * once both are written out (so it precedes the HTTP response the invoker waits for).
 */
export async function endActivation(): Promise<void> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (stream) =>
        new Promise<void>((ok) => {
          const line = `${atLineStart.get(stream) === false ? '\n' : ''}${LOG_SENTINEL}\n`;
          stream.write(line, () => ok());
        }),
    ),
  );
}
