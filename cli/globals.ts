import { type Command, Option } from 'commander';

/** The options every command takes: before the command (`swirl -v action list`) or after it. */
export interface GlobalOptions {
  apihost?: string;
  auth?: string;
  insecure?: boolean;
  verbose?: boolean;
  debug?: boolean;
  apiversion?: string;
  cert?: string;
  key?: string;
  json?: boolean;
}

const globalOptions = new WeakSet<Option>();

/** A fresh set of the global options (each command gets its own copies). */
export function makeGlobalOptions(): Option[] {
  const options = [
    new Option('--apihost <host>', 'API host, host:port or a URL (overrides __OW_API_HOST and the props file)'),
    new Option('-u, --auth <key>', 'authorization key uuid:key, or a token (overrides __OW_API_KEY and the props file)'),
    new Option('-i, --insecure', 'accept any TLS certificate'),
    new Option('-v, --verbose', 'print HTTP requests and responses on stderr, the key masked'),
    new Option('-d, --debug', 'debug output on stderr: the settings in use and, as -v, every HTTP request and response (the key masked)'),
    new Option('--apiversion <version>', 'whisk API version (default v1: the only one OpenWhisk and swirl serve)'),
    new Option('--cert <file>', 'client certificate (PEM) for an https API host that asks for one; with --key'),
    new Option('--key <file>', 'private key (PEM) of the client certificate; with --cert'),
    new Option('--json', 'print raw JSON'),
  ];
  for (const o of options) globalOptions.add(o);
  return options;
}

/** The global options given to `cmd` or to any command above it (not a command's own options of the same name). */
export function readGlobals(cmd: Command): GlobalOptions {
  const found: Record<string, unknown> = {};
  for (let c: Command | null = cmd; c; c = c.parent) {
    for (const o of c.options) {
      const key = o.attributeName();
      const value = c.getOptionValue(key);
      if (globalOptions.has(o) && value !== undefined && found[key] === undefined) found[key] = value;
    }
  }
  return found as GlobalOptions;
}
