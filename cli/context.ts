import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Client } from './client.ts';
import { CliError, UsageError } from './errors.ts';
import { type GlobalOptions, readGlobals } from './globals.ts';
import { interactive, type Io } from './io.ts';
import { Output } from './output.ts';
import { propsPath, readPropsFile, type Resolved, resolveProp } from './props.ts';
import { VERSION } from './version.ts';

/** One run of the CLI: its streams and environment, its output, and how it reaches the API. */
export class Cli {
  readonly out: Output;
  /** Set by a command that succeeds with another code than 0 (202: a blocking call still running). */
  exitCode = 0;

  constructor(readonly io: Io) {
    this.out = new Output(io);
  }

  globals(cmd: Command): GlobalOptions {
    return readGlobals(cmd);
  }

  json(cmd: Command): boolean {
    return !!this.globals(cmd).json;
  }

  get propsFile(): string {
    return propsPath(this.io.env, this.io.cwd);
  }

  /** apihost, auth and namespace, each from flag, environment or props file. */
  settings(cmd: Command): { apihost: Resolved; auth: Resolved; namespace: string } {
    const g = this.globals(cmd);
    const file = readPropsFile(this.propsFile);
    return {
      apihost: resolveProp('apihost', g.apihost, this.io.env, file),
      auth: resolveProp('auth', g.auth, this.io.env, file),
      namespace: resolveProp('namespace', undefined, this.io.env, file).value!,
    };
  }

  /** A client for the configured API host and key (`anonymous`: without the key, for the public hub API). */
  client(cmd: Command, { anonymous = false } = {}): Client {
    const s = this.settings(cmd);
    if (!s.apihost.value) throw new CliError("The API host is not set. Set it with 'swirl property set --apihost HOST', the --apihost flag or __OW_API_HOST.");
    if (!s.auth.value && !anonymous) throw new CliError("The API key is not set. Set it with 'swirl property set --auth KEY', the --auth (-u) flag or __OW_API_KEY.");
    const g = this.globals(cmd);
    const file = readPropsFile(this.propsFile);
    const apiVersion = g.apiversion ?? file.get('APIVERSION');
    const clientCert = this.clientCert(g.cert ?? file.get('CERT'), g.key ?? file.get('KEY'));
    if (g.debug) this.debug(`settings: apihost ${s.apihost.value} (from ${s.apihost.source}), auth from ${s.auth.source}, namespace ${s.namespace}, API version ${apiVersion ?? 'v1'}, props file ${this.propsFile}${clientCert ? ', client certificate ' + (g.cert ?? file.get('CERT')) : ''}`);
    return new Client({
      apihost: s.apihost.value,
      ...(anonymous ? {} : { auth: s.auth.value }),
      insecure: !!g.insecure,
      userAgent: `swirl-cli/${VERSION}`,
      ...(apiVersion ? { apiVersion } : {}),
      ...(clientCert ? { clientCert } : {}),
      ...(g.verbose || g.debug ? { verbose: (text: string) => this.out.note(text) } : {}),
    });
  }

  /** `--cert` and `--key` (or CERT and KEY in the props file): both or neither, as wsk has them. */
  private clientCert(cert: string | undefined, key: string | undefined): { cert: Buffer; key: Buffer } | undefined {
    if (!cert && !key) return undefined;
    if (!cert) throw new UsageError('The Cert file is not configured. Please configure the missing Cert file.');
    if (!key) throw new UsageError('The Key file is not configured. Please configure the missing Key file.');
    const read = (file: string) => {
      try {
        return readFileSync(resolve(this.io.cwd, file));
      } catch (e) {
        throw new CliError(`Unable to load the X509 key pair due to the following reason: ${(e as Error).message}`);
      }
    };
    return { cert: read(cert), key: read(key) };
  }

  /** A `-d` line on stderr: what the CLI decided, never the key. */
  debug(text: string): void {
    this.out.note(`${this.out.ce.dim('[debug]')} ${text}`);
  }

  /** The namespace segment of API paths: the configured namespace, `_` (the caller's) by default. */
  namespace(cmd: Command): string {
    return this.settings(cmd).namespace;
  }

  /** Run `work` with a spinner on a terminal, else after one line on stderr saying what it waits for (a long wait is never silent). */
  progress<T>(text: string, work: () => Promise<T>): Promise<T> {
    return this.steps(text, () => work());
  }

  /**
   * As progress, for work that says its steps as they happen (`step(text)`): on a terminal the
   * spinner's text becomes each step, elsewhere each step is a line on stderr.
   */
  steps<T>(text: string, work: (step: (text: string) => void) => Promise<T>): Promise<T> {
    if (interactive(this.io.stderr, this.io.env)) return this.spinning(text, work);
    const line = (t: string) => this.out.note(`${t}…`);
    line(text);
    return work(line);
  }

  /** Run `work` with a spinner on stderr when stderr is an interactive terminal. */
  async spin<T>(text: string, work: () => Promise<T>): Promise<T> {
    if (!interactive(this.io.stderr, this.io.env)) return work();
    return this.spinning(text, () => work());
  }

  private async spinning<T>(text: string, work: (step: (text: string) => void) => Promise<T>): Promise<T> {
    // loaded when a spinner is drawn: every other run starts without it
    const { default: yoctoSpinner } = await import('yocto-spinner');
    const spinner = yoctoSpinner({ text, stream: this.io.stderr as NodeJS.WriteStream }).start();
    try {
      return await work((t) => {
        spinner.text = t;
      });
    } finally {
      spinner.stop();
    }
  }
}
