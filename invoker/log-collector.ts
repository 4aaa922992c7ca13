import { LOG_SENTINEL, type LogSegment, stampLine } from '../common/container.ts';
import { LIMITS } from '../common/limits.ts';
import { OutputLines } from '../common/output-lines.ts';

type Stream = 'stdout' | 'stderr';

interface Line {
  seq: number;
  time: string;
  stream: Stream;
  text: string;
  /** Bytes of `text`; Infinity for a line whose text was not kept (longer than any log limit, or past the buffer bound). */
  size: number;
}

/** Unmarked output is taken once none came for this long (ms). */
const QUIET_MS = 50;

/** What a line costs the buffer besides its text: an empty line is not free. */
const LINE_OVERHEAD = 64;

/**
 * Cuts a container's stdout and stderr into per-activation segments. Factories feed raw
 * output as it arrives; after an activation the invoker takes the segment: the lines up
 * to the next sentinel on both streams, or, for a runtime that marks no activation's end
 * (an image that follows OpenWhisk's contract, which OpenWhisk reads the same way), every
 * line until the output goes quiet. Lines keep their arrival order across streams.
 *
 * Linear in the output, however it is split (OutputLines): the text of a line longer than
 * `maxLine` — more than any activation may keep — is dropped as it streams (only its length
 * is counted), as is every line past `maxBuffered`; either shows as a truncation.
 */
export class LogCollector {
  private readonly output: OutputLines<Stream>;
  /** When the chunk being cut arrived: its lines' time. */
  private arrived = '';
  private readonly lines: Line[] = [];
  private readonly sentinels: Record<Stream, number> = { stdout: 0, stderr: 0 };
  /** A stream's lines are being dropped for the buffer bound (one marker line says so). */
  private readonly overflowing: Record<Stream, boolean> = { stdout: false, stderr: false };
  private seq = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Takes asked for and not yet served (queued behind `queue`). */
  private waiting = 0;
  private ended = false;
  private readonly waiters = new Set<() => void>();
  /** Bound on buffered text when nobody takes segments (e.g. output after a dead activation). */
  private buffered = 0;

  private readonly marked: boolean;
  private readonly maxBuffered: number;
  /** Chunks fed so far: unmarked output is taken once this stops changing. */
  private fed = 0;

  /**
   * `marked`: the runtime ends each activation's output with the sentinel (default);
   * otherwise a segment is everything that came until the output went quiet, and a
   * sentinel line is dropped. `maxBuffered`, `maxLine`: bounds in characters.
   */
  constructor(opts: { marked?: boolean; maxBuffered?: number; maxLine?: number } = {}) {
    this.marked = opts.marked ?? true;
    this.maxBuffered = opts.maxBuffered ?? 16 * 1024 * 1024;
    this.output = new OutputLines<Stream>(opts.maxLine ?? LIMITS.logs.max * 1024 * 1024, (stream, text) =>
      text === undefined ? this.push(stream, '', Infinity, this.arrived) : this.push(stream, text, Buffer.byteLength(text), this.arrived),
    );
  }

  feed(stream: Stream, chunk: string, time = new Date().toISOString()): void {
    this.fed++;
    this.arrived = time;
    if (this.output.write(stream, chunk)) this.wake();
  }

  /** No more output will come (the container exited). */
  end(): void {
    this.endLines();
    this.ended = true;
    this.wake();
  }

  /** A last line without its newline is a line too. */
  private endLines(): void {
    this.arrived = new Date().toISOString();
    for (const stream of ['stdout', 'stderr'] as const) this.output.flush(stream);
  }

  /** The next activation's segment; calls are served in order. */
  take(limitBytes: number, waitMs: number): Promise<LogSegment> {
    const now = this.takeAtOnce(limitBytes, waitMs);
    if (now) return Promise.resolve(now);
    this.waiting++;
    const next = this.queue.then(() => this.takeNow(limitBytes, waitMs));
    const served = () => void this.waiting--;
    this.queue = next.then(served, served);
    return next;
  }

  /**
   * The next activation's segment when there is nothing to wait for and no take before it
   * (a warm activation's, usually), cut now; else undefined (ask `take`). No promise, let alone
   * the queue's three: on Node 20 each pays for AsyncLocalStorage's hooks.
   */
  takeAtOnce(limitBytes: number, waitMs: number): LogSegment | undefined {
    return this.waiting === 0 && this.marked && !this.mustWait(waitMs) ? this.cut(limitBytes) : undefined;
  }

  /** Whether a marked segment is to be waited for: its end markers have not all come, and may. */
  private mustWait(waitMs: number): boolean {
    return waitMs > 0 && !this.ready() && !this.ended;
  }

  private async takeNow(limitBytes: number, waitMs: number): Promise<LogSegment> {
    if (!this.marked) {
      await this.quiet(waitMs);
      // the activation is over: a last line without its newline is its own
      this.endLines();
      return this.cut(limitBytes);
    }
    if (this.mustWait(waitMs)) {
      await new Promise<void>((ok) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          ok();
        };
        const timer = setTimeout(done, waitMs);
        this.waiters.add(done);
      });
    }
    return this.cut(limitBytes);
  }

  /** Wait until no output came for QUIET_MS (lines still on their way), at most `waitMs`. */
  private async quiet(waitMs: number): Promise<void> {
    const until = Date.now() + waitMs;
    for (let seen = -1; seen !== this.fed && !this.ended && Date.now() < until; ) {
      seen = this.fed;
      await new Promise((ok) => setTimeout(ok, Math.min(QUIET_MS, until - Date.now())));
    }
  }

  private push(stream: Stream, text: string, size: number, time: string): void {
    const cost = (size === Infinity ? 0 : size) + LINE_OVERHEAD;
    if (size !== Infinity && text === LOG_SENTINEL) {
      if (!this.marked) return;
      // never dropped: it is how the next activation's lines are told apart
      this.sentinels[stream]++;
      this.overflowing[stream] = false;
      this.buffered += cost;
      this.lines.push({ seq: this.seq++, time, stream, text, size });
      return;
    }
    if (this.buffered + cost > this.maxBuffered) {
      // past the bound: one line without text marks where this stream's output was dropped
      if (!this.overflowing[stream]) this.lines.push({ seq: this.seq++, time, stream, text: '', size: Infinity });
      this.overflowing[stream] = true;
      return;
    }
    this.buffered += cost;
    this.lines.push({ seq: this.seq++, time, stream, text, size });
  }

  private ready(): boolean {
    return this.sentinels.stdout > 0 && this.sentinels.stderr > 0;
  }

  private wake(): void {
    if (this.ready() || this.ended) for (const done of [...this.waiters]) done();
  }

  /** Remove this activation's lines (up to the first sentinel of each stream) from the buffer. */
  private cut(limitBytes: number): LogSegment {
    const complete = !this.marked || this.ready();
    const open: Record<Stream, boolean> = { stdout: true, stderr: true };
    const taken: Line[] = [];
    const kept: Line[] = [];
    for (const line of this.lines) {
      if (!open[line.stream]) kept.push(line);
      else if (line.size !== Infinity && line.text === LOG_SENTINEL) {
        open[line.stream] = false;
        this.sentinels[line.stream]--;
      } else taken.push(line);
    }
    this.lines.length = 0;
    this.lines.push(...kept);
    this.buffered = kept.reduce((n, l) => n + (l.size === Infinity ? 0 : l.size) + LINE_OVERHEAD, 0);

    const out: string[] = [];
    let bytes = 0;
    let truncated = false;
    for (const l of taken) {
      if (bytes + l.size > limitBytes) {
        truncated = true;
        break;
      }
      bytes += l.size;
      out.push(stampLine(l.time, l.stream, l.text));
    }
    return { lines: out, truncated, complete };
  }
}
