import { LOG_SENTINEL, type LogSegment } from '../common/container.ts';

type Stream = 'stdout' | 'stderr';

interface Line {
  seq: number;
  time: string;
  stream: Stream;
  text: string;
}

/**
 * Cuts a container's stdout and stderr into per-activation segments. Factories feed raw
 * output as it arrives; after an activation the invoker takes the segment: the lines up
 * to the next sentinel on both streams. Lines keep their arrival order across streams.
 */
export class LogCollector {
  private readonly partial: Record<Stream, string> = { stdout: '', stderr: '' };
  private readonly lines: Line[] = [];
  private readonly sentinels: Record<Stream, number> = { stdout: 0, stderr: 0 };
  private seq = 0;
  private queue: Promise<void> = Promise.resolve();
  private ended = false;
  private readonly waiters = new Set<() => void>();
  /** Bound on buffered text when nobody takes segments (e.g. output after a dead activation). */
  private buffered = 0;

  constructor(private readonly maxBuffered = 16 * 1024 * 1024) {}

  feed(stream: Stream, chunk: string, time = new Date().toISOString()): void {
    const parts = (this.partial[stream] + chunk).split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const text of parts) this.push(stream, text.endsWith('\r') ? text.slice(0, -1) : text, time);
    if (parts.length) this.wake();
  }

  /** No more output will come (the container exited). */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.push(stream, this.partial[stream], new Date().toISOString());
      this.partial[stream] = '';
    }
    this.ended = true;
    this.wake();
  }

  /** The next activation's segment; calls are served in order. */
  take(limitBytes: number, waitMs: number): Promise<LogSegment> {
    const next = this.queue.then(() => this.takeNow(limitBytes, waitMs));
    this.queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private async takeNow(limitBytes: number, waitMs: number): Promise<LogSegment> {
    if (!this.ready() && !this.ended) {
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

  private push(stream: Stream, text: string, time: string): void {
    if (text === LOG_SENTINEL) this.sentinels[stream]++;
    else if (this.buffered > this.maxBuffered) return;
    else this.buffered += text.length;
    this.lines.push({ seq: this.seq++, time, stream, text });
  }

  private ready(): boolean {
    return this.sentinels.stdout > 0 && this.sentinels.stderr > 0;
  }

  private wake(): void {
    if (this.ready() || this.ended) for (const done of [...this.waiters]) done();
  }

  /** Remove this activation's lines (up to the first sentinel of each stream) from the buffer. */
  private cut(limitBytes: number): LogSegment {
    const complete = this.ready();
    const open: Record<Stream, boolean> = { stdout: true, stderr: true };
    const taken: Line[] = [];
    const kept: Line[] = [];
    for (const line of this.lines) {
      if (!open[line.stream]) kept.push(line);
      else if (line.text === LOG_SENTINEL) {
        open[line.stream] = false;
        this.sentinels[line.stream]--;
      } else taken.push(line);
    }
    this.lines.length = 0;
    this.lines.push(...kept);
    this.buffered = kept.reduce((n, l) => n + l.text.length, 0);

    const out: string[] = [];
    let bytes = 0;
    let truncated = false;
    for (const l of taken) {
      const size = Buffer.byteLength(l.text);
      if (bytes + size > limitBytes) {
        truncated = true;
        break;
      }
      bytes += size;
      out.push(`${l.time} ${l.stream}: ${l.text}`);
    }
    return { lines: out, truncated, complete };
  }
}
