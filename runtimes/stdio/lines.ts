import { StringDecoder } from 'node:string_decoder';
import { ActionFailure } from '../common/protocol.ts';

/** Splits a byte stream into lines (without their `\n` or `\r\n`). */
export class LineSplitter {
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const parts = (this.partial + this.decoder.write(chunk)).split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) this.onLine(p.endsWith('\r') ? p.slice(0, -1) : p);
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) this.onLine(rest);
  }
}

/** A line of the executable's stdout that is not its result: forwarded as a log line. */
export const logLine = (line: string): void => void process.stdout.write(`${line}\n`);

/** The result line, parsed. */
export function parseResult(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new ActionFailure(`The action did not produce a valid JSON result: ${line.slice(0, 200)}`);
  }
}

export const exitReason = (code: number | null, signal: NodeJS.Signals | null): string =>
  signal ? `the executable was killed by ${signal}` : `the executable exited with code ${code}`;
