import type { ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { type LogSegment, sentinelledLogs } from '../../common/container.ts';
import { LogCollector } from '../log-collector.ts';

/**
 * A container's output read from the pipes of the child process that runs it (the process
 * and sandbox factories): stdout and stderr cut into activations, the first few KB kept
 * for start-up errors, and `exited` once the child is gone and its pipes are drained.
 */
export class ChildOutput {
  readonly exited: Promise<void>;
  /** swirl's own runtimes answer with the activation's output: their streams carry only what bypasses them. */
  readonly inlineLogs: boolean;
  private readonly collector: LogCollector;
  private early = '';

  constructor(child: ChildProcess, kind: string, onGone: () => void) {
    this.collector = new LogCollector({ marked: sentinelledLogs(kind) });
    this.inlineLogs = sentinelledLogs(kind);
    for (const stream of ['stdout', 'stderr'] as const) {
      const decoder = new StringDecoder('utf8');
      // a pipe reset when the container is killed ends its output; it is no error of the invoker's
      child[stream]!.on('error', () => undefined);
      child[stream]!.on('data', (d: Buffer) => {
        const text = decoder.write(d);
        if (this.early.length < 4096) this.early += text;
        this.collector.feed(stream, text);
      });
    }
    this.exited = new Promise((ok) =>
      child.once('close', () => {
        this.collector.end();
        onGone();
        ok();
      }),
    );
    child.once('error', () => undefined);
  }

  logs(limitBytes: number, waitMs: number): Promise<LogSegment> {
    return this.collector.take(limitBytes, waitMs);
  }

  logsAtOnce(limitBytes: number, waitMs: number): LogSegment | undefined {
    return this.collector.takeAtOnce(limitBytes, waitMs);
  }

  /** What the child printed first, for start-up failures (empty, or a newline and the text). */
  text(): string {
    return this.early ? `\n${this.early.trim()}` : '';
  }
}
