import { Writable } from 'node:stream';

/** A stream collecting what a logger writes, as a terminal (`isTTY`) or not; `lines()` parses JSON lines. */
export function logSink(tty = false): { stream: NodeJS.WriteStream; text: () => string; lines: () => Array<Record<string, unknown>> } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: tty, hasColors: () => false });
  const lines = () =>
    text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, text: () => text, lines };
}
