import pc from 'picocolors';
import type { CliError } from './errors.ts';
import { colorsWanted, type Io } from './io.ts';

export type Colors = ReturnType<typeof pc.createColors>;

/** Everything the CLI prints goes through here: results on stdout, errors and notes on stderr. */
export class Output {
  /** Colours for stdout and for stderr, each on only when that stream is a terminal. */
  readonly c: Colors;
  readonly ce: Colors;

  constructor(private readonly io: Io) {
    this.c = pc.createColors(colorsWanted(io.stdout, io.env));
    this.ce = pc.createColors(colorsWanted(io.stderr, io.env));
  }

  line(text = ''): void {
    this.io.stdout.write(text + '\n');
  }

  lines(texts: string[]): void {
    for (const t of texts) this.line(t);
  }

  /** `ok: created action hello` */
  ok(message: string): void {
    this.line(`${this.c.green('ok:')} ${message}`);
  }

  /** Pretty JSON, indented as wsk prints it. */
  json(value: unknown): void {
    this.line(JSON.stringify(value, null, 4));
  }

  /** A table as cli/format.ts lays it out: its first line (the column headers) as a heading, then its rows. */
  table([header, ...rows]: string[]): void {
    if (header !== undefined) this.heading(header);
    this.lines(rows);
  }

  /** A heading of a listing (`actions`), bold on a terminal. */
  heading(text: string): void {
    this.line(this.c.bold(text));
  }

  /** `error: <message> (code <txid>)` on stderr. */
  error(e: CliError): void {
    this.note(`${this.ce.red('error:')} ${e.message}${e.txid ? ` (code ${e.txid})` : ''}`);
  }

  note(text: string): void {
    this.io.stderr.write(text + '\n');
  }
}
