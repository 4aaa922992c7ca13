import { AsyncLocalStorage } from 'node:async_hooks';
import { writeSync } from 'node:fs';
import { byTime, lineParts, LOG_SENTINEL, maxEncodedLogs, stampLine } from '../../common/container.ts';
import { OutputLines } from '../../common/output-lines.ts';

type Stream = NodeJS.WriteStream;
type StreamName = 'stdout' | 'stderr';


/** An activation's output as the invoker keeps it. */
export interface CapturedLogs {
  /** `"<ISO time> <stdout|stderr>: <line>"`, in the order written. */
  lines: string[];
  /** Lines were dropped at the limit. */
  truncated: boolean;
}

/**
 * The output of one activation, kept in memory within its log limit: lines stamped when
 * they end, text bytes counted against the limit as the invoker's log collector counts
 * them; once a line does not fit, nothing more is kept. A line longer than the limit is
 * only counted as it is written, never joined.
 */
export class ActivationOutput {
  private readonly kept: string[] = [];
  private bytes = 0;
  /** Bytes of the kept lines as sent: JSON strings and their commas. */
  private encoded = 2;
  private truncated = false;
  private readonly lines: OutputLines<StreamName>;
  /** Taken: what is written to it from now on (a timer the activation left) goes to the next activation. */
  closed = false;
  /** Written out to the streams (flush): what the activation writes from now on goes there too. */
  flushed = false;

  constructor(private readonly limit: number) {
    this.lines = new OutputLines<StreamName>(limit, (stream, text) => this.keep(stream, text));
  }

  write(stream: StreamName, chunk: string): void {
    this.lines.write(stream, chunk);
  }

  /** End the activation's output (a last line without its newline is its own), with `earlier` output merged in by time. */
  take(earlier?: ActivationOutput): CapturedLogs {
    this.closed = true;
    const before = earlier?.take();
    for (const stream of STREAMS) this.lines.flush(stream);
    return { lines: byTime(before?.lines ?? [], this.kept), truncated: this.truncated || before?.truncated === true };
  }

  /**
   * Write what is kept to the process's streams, synchronously (the process may be about to
   * end), the lines as written, and from now on let the activation write there: its answer
   * will not come (its deadline passed, the process exits), and the invoker then reads the
   * streams. With `mark`, each stream's end-of-activation sentinel follows.
   */
  flush(mark: boolean): void {
    if (this.flushed || this.closed) return;
    this.flushed = true;
    const out = { stdout: '', stderr: '' };
    for (const line of this.kept) {
      const { stream, text } = lineParts(line);
      out[stream] += `${text}\n`;
    }
    for (const stream of STREAMS) {
      const pending = this.lines.takePending(stream);
      if (pending) out[stream] += `${pending}\n`;
      if (mark) out[stream] += `${LOG_SENTINEL}\n`;
    }
    this.kept.length = 0;
    for (const [fd, stream] of [
      [1, 'stdout'],
      [2, 'stderr'],
    ] as const)
      if (out[stream]) writeAll(fd, out[stream]);
  }

  private keep(stream: StreamName, text: string | undefined): void {
    if (this.truncated) return;
    if (text === undefined) {
      this.truncated = true;
      return;
    }
    const size = Buffer.byteLength(text);
    const line = stampLine(new Date().toISOString(), stream, text);
    const encoded = Buffer.byteLength(JSON.stringify(line)) + 1;
    if (this.bytes + size > this.limit || this.encoded + encoded > maxEncodedLogs(this.limit)) {
      this.truncated = true;
      return;
    }
    this.bytes += size;
    this.encoded += encoded;
    this.kept.push(line);
  }
}

const STREAMS = ['stdout', 'stderr'] as const;

/** The activation whose code is running (async context): its writes are its own. */
const current = new AsyncLocalStorage<ActivationOutput>();
/** Output written outside any activation once the invoker asks for logs with answers: it goes with the next answer. */
let ambient: ActivationOutput | undefined;
/** Whether the last byte written to each stream ended a line (for the sentinel). */
const atLineStart = new WeakMap<Stream, boolean>();
/** Each stream's own write, which the sentinel takes whatever is captured. */
const writeThrough = new WeakMap<Stream, (...args: unknown[]) => boolean>();

/**
 * Take over what is written to stdout and stderr (by the action, or forwarded from a child):
 * into the writing activation's output when the invoker asks for logs with answers, else
 * through to the stream, watched so that the end-of-activation sentinel always lands on a
 * line of its own.
 */
export function captureOutput(): void {
  for (const [name, stream] of [
    ['stdout', process.stdout],
    ['stderr', process.stderr],
  ] as const) {
    if (atLineStart.has(stream)) continue;
    atLineStart.set(stream, true);
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    writeThrough.set(stream, (chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? chunk : undefined;
      if (text !== undefined && text.length > 0) atLineStart.set(stream, typeof text === 'string' ? text.endsWith('\n') : text[text.length - 1] === 10);
      return write(chunk, ...rest);
    });
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const own = current.getStore();
      const into = own && !own.closed ? own : ambient;
      if (into && !into.flushed) {
        into.write(name, typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
        const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        if (done) process.nextTick(done);
        return true;
      }
      return writeThrough.get(stream)!(chunk, ...rest);
    }) as Stream['write'];
  }
}

/**
 * Run `fn` (an init or a run) with what it writes kept for its answer; resolves with its
 * outcome and its logs, the output written meanwhile outside any activation included.
 */
export async function captured<T>(limit: number, fn: () => Promise<T>, deadline?: number): Promise<{ value: T; logs: CapturedLogs }> {
  const out = new ActivationOutput(limit);
  ambient ??= new ActivationOutput(limit);
  running.add(out);
  // past its deadline the invoker stops waiting for the answer and reads the streams instead
  const late = deadline === undefined ? undefined : setTimeout(() => out.flush(true), Math.max(0, deadline - Date.now()));
  late?.unref();
  try {
    return { value: await current.run(out, fn), logs: out.take(ambient) };
  } finally {
    clearTimeout(late);
    running.delete(out);
    out.closed = true;
    if (ambient.closed) ambient = new ActivationOutput(limit);
  }
}

/** Activations under way: their output is written out if the process ends before they answer. */
const running = new Set<ActivationOutput>();
process.on('exit', () => {
  for (const out of running) out.flush(false);
});

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(fd, bytes, at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
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
          (writeThrough.get(stream) ?? stream.write.bind(stream))(line, () => ok());
        }),
    ),
  );
}
