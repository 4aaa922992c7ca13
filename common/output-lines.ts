/**
 * Output cut into lines as it is written, however it is split: only a new chunk is searched
 * for newlines, a line in progress is a list of pieces joined once at its end, and a line
 * longer than `maxLine` characters is dropped as it streams (only its length is counted).
 * The invoker's log collector and the runtimes' per-activation output both cut so.
 */
export class OutputLines<S extends string> {
  private readonly partial = new Map<S, { chunks: string[]; kept: number; seen: number; dropped: boolean }>();

  /**
   * `onLine` gets each ended line's text without its `\n` or `\r\n`, or undefined for a
   * line longer than `maxLine` (its text was not kept).
   */
  constructor(
    private readonly maxLine: number,
    private readonly onLine: (stream: S, text: string | undefined) => void,
  ) {}

  /** Cut `chunk` into lines; returns whether one ended. */
  write(stream: S, chunk: string): boolean {
    let from = 0;
    let ended = false;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
      this.append(stream, chunk, from, nl);
      this.endLine(stream);
      ended = true;
      from = nl + 1;
    }
    this.append(stream, chunk, from, chunk.length);
    return ended;
  }

  /** Characters of the stream's line in progress (0: none). */
  pending(stream: S): number {
    return this.partial.get(stream)?.seen ?? 0;
  }

  /** End the stream's line in progress, if any: a last line without its newline is a line too. */
  flush(stream: S): void {
    if (this.pending(stream) > 0) this.endLine(stream);
  }

  /** The line in progress as written so far (undefined when too long to keep), forgotten. */
  takePending(stream: S): string | undefined {
    const p = this.partial.get(stream);
    this.partial.delete(stream);
    return !p || p.dropped ? undefined : p.chunks.join('');
  }

  private append(stream: S, chunk: string, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    let p = this.partial.get(stream);
    if (!p) this.partial.set(stream, (p = { chunks: [], kept: 0, seen: 0, dropped: false }));
    p.seen += n;
    if (p.dropped) return;
    if (p.kept + n > this.maxLine) {
      p.dropped = true;
      p.chunks = [];
      p.kept = 0;
      return;
    }
    p.chunks.push(start === 0 && end === chunk.length ? chunk : chunk.slice(start, end));
    p.kept += n;
  }

  private endLine(stream: S): void {
    const p = this.partial.get(stream);
    this.partial.delete(stream);
    if (p?.dropped) return this.onLine(stream, undefined);
    const joined = !p ? '' : p.chunks.length === 1 ? p.chunks[0]! : p.chunks.join('');
    this.onLine(stream, joined.endsWith('\r') ? joined.slice(0, -1) : joined);
  }
}
