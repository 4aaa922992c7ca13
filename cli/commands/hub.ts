import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { Cli } from '../context.ts';
import { CliError } from '../errors.ts';
import { type HubDetail, type PeerState, peersTable, type SearchAnswer, searchFooter, searchTable, showLines, stepText, type TestAnswer, testLines, testPassed } from '../hub-format.ts';
import type { TrialStep } from '../../common/hub/types.ts';
import { payload } from '../params.ts';
import { integer, type ParamOptions, withParams } from './options.ts';

/**
 * `swirl hub …`: the Function Hub of issue 20 as a user meets it. Every command talks to the
 * CLI's own instance (its apihost): search and peers through its public `/hub/v1` API (no key
 * needed), show, get, test, install and update through the caller's namespace, where the
 * instance fetches from the REF's instance and checks the digest.
 */

const REF = 'the package as `hub search` prints it: HOST:PORT/OWNER/PACKAGE[@VERSION]';
const HUB = '/hub/v1';

const hubPath = (cli: Cli, cmd: Command, op: string): string => `/namespaces/${encodeURIComponent(cli.namespace(cmd))}/hub/${op}`;

/** `tools-0.0.2.zip` for `host:port/alice/tools@0.0.2`; `tools.zip` without a version. */
export function zipName(ref: string): string {
  const [path, version] = ref.replace(/^https?:\/\//i, '').split('@');
  const name = (path ?? '').split('/').filter(Boolean).pop() ?? 'package';
  return `${name.replace(/[^\w.-]/g, '_')}${version ? `-${version.replace(/[^\w.-]/g, '_')}` : ''}.zip`;
}

function search(cli: Cli, hub: Command): void {
  hub
    .command('search')
    .description('search this instance and its peers (and theirs) for published packages')
    .argument('<term>', 'words matched against package names and descriptions')
    .option('--hops <n>', 'how far to learn peers of peers before asking (default 2)', integer)
    .action(async (term: string, f: { hops?: number }, cmd: Command) => {
      const client = cli.client(cmd, { anonymous: true });
      const res = await cli.spin(`searching for '${term}'`, () => client.request<SearchAnswer>('GET', '/search', { root: HUB, query: { q: term, hops: f.hops }, what: `search the hub for '${term}'` }));
      if (cli.json(cmd)) return cli.out.json(res.body);
      if (res.body.results.length) cli.out.table(searchTable(res.body.results));
      else cli.out.line(`no published package matches '${term}'`);
      cli.out.lines(searchFooter(res.body));
    });
}

function show(cli: Cli, hub: Command): void {
  hub
    .command('show')
    .description('show a package: metadata, figures, actions, examples, and its code when the publisher shows it')
    .argument('<ref>', REF)
    .action(async (ref: string, _f: unknown, cmd: Command) => {
      const client = cli.client(cmd);
      const res = await cli.spin(`getting ${ref}`, () => client.request<HubDetail>('GET', hubPath(cli, cmd, 'show'), { query: { ref }, what: `show ${ref}` }));
      if (cli.json(cmd)) return cli.out.json(res.body);
      cli.out.lines(showLines(res.body));
    });
}

function get(cli: Cli, hub: Command): void {
  hub
    .command('get')
    .description('download a package (a zip of its manifest and actions) when its publisher allows it; its digest is checked')
    .argument('<ref>', REF)
    .option('-o, --output <file>', 'where to save the zip (default NAME-VERSION.zip here)')
    .action(async (ref: string, f: { output?: string }, cmd: Command) => {
      const path = resolve(cli.io.cwd, f.output ?? zipName(ref));
      if (existsSync(path)) throw new CliError(`The file '${path}' already exists.`);
      const client = cli.client(cmd);
      const res = await cli.progress(`downloading ${ref}`, () => client.request<Buffer>('GET', hubPath(cli, cmd, 'get'), { query: { ref }, what: `download ${ref}`, binary: true }));
      const digest = await verified(ref, res.body, res.headers['x-swirl-digest']);
      writeFileSync(path, res.body);
      const saved = { ref, file: path, bytes: res.body.length, digest };
      if (cli.json(cmd)) return cli.out.json(saved);
      cli.out.ok(`saved ${ref} to ${path} (${saved.bytes} bytes; digest ${digest} checked)`);
    });
}

/**
 * The zip checked here too, against the digest the instance announced: every file's sha256 as
 * its manifest says, the manifest's digest as announced (what arrives is what was verified).
 */
async function verified(ref: string, zip: Buffer, announced: string | string[] | undefined): Promise<string> {
  if (typeof announced !== 'string') throw new CliError(`Unable to download ${ref}: the instance did not say the package's digest (X-Swirl-Digest).`);
  // the bundle reader (and its zip library) loads when a download is checked: every other run starts without it
  const { HubBundleError, readBundle } = await import('../../common/hub/manifest.ts');
  try {
    return readBundle(new Uint8Array(zip), announced).digest;
  } catch (e) {
    // the ref once: a bundle error's reason is its message without the manifest's ref
    throw new CliError(`Unable to download ${ref}: ${e instanceof HubBundleError ? e.reason : (e as Error).message}; nothing saved.`);
  }
}

function test(cli: Cli, hub: Command): void {
  withParams(
    hub
      .command('test')
      .description('try a package in a disposable namespace on this instance: its examples, or the given parameters; everything is removed after')
      .argument('<ref>', REF)
      .option('--action <name>', 'the action to run with -p (default the first)'),
    'run parameter',
  ).action(async (ref: string, f: ParamOptions & { action?: string }, cmd: Command) => {
    const params = payload(f.param, f.paramFile, cli.io.cwd);
    const given = f.param !== undefined || f.paramFile !== undefined;
    const body = { ref, ...(given ? { params } : {}), ...(f.action ? { action: f.action } : {}) };
    const client = cli.client(cmd);
    const what = given || f.action ? `${f.action ?? 'its first action'} with the given parameters` : 'its examples';
    // the steps as the instance takes them (NDJSON), on stderr; the answer as before
    const res = await cli.steps(`testing ${ref}: ${what}`, (step) =>
      client.request<TestAnswer>('POST', hubPath(cli, cmd, 'test'), { body, what: `test ${ref}`, lines: (s) => step(stepText(s as TrialStep)) }),
    );
    if (cli.json(cmd)) return cli.out.json(res.body);
    cli.out.lines(testLines(res.body));
    if (!testPassed(res.body)) cli.exitCode = 1;
  });
}

interface Installed {
  name: string;
  namespace: string;
  version: string;
  annotations?: Array<{ key: string; value: unknown }>;
}

const annotationOf = (p: Installed, key: string): unknown => p.annotations?.find((a) => a.key === key)?.value;

function install(cli: Cli, hub: Command): void {
  hub
    .command('install')
    .description('install a copy of a package in your namespace (its origin, version and digest recorded)')
    .argument('<ref>', REF)
    .option('--as <name>', 'the name of the package here (default its own)')
    .action(async (ref: string, f: { as?: string }, cmd: Command) => {
      const client = cli.client(cmd);
      const res = await cli.progress(`installing ${ref}: fetching it and checking its digest`, () =>
        client.request<Installed>('POST', hubPath(cli, cmd, 'install'), { body: { ref, ...(f.as ? { as: f.as } : {}) }, what: `install ${ref}` }),
      );
      if (cli.json(cmd)) return cli.out.json(res.body);
      const p = res.body;
      cli.out.ok(`installed ${String(annotationOf(p, 'hub-origin') ?? ref)} as /${p.namespace}/${p.name} (digest ${String(annotationOf(p, 'hub-digest') ?? '?')})`);
    });
}

function update(cli: Cli, hub: Command): void {
  hub
    .command('update')
    .description('update an installed package when its origin has a newer version')
    .argument('<name>', 'the installed package')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const client = cli.client(cmd);
      const res = await cli.progress(`checking the origin of ${name}`, () =>
        client.request<{ updated: boolean; from: string; to: string }>('POST', hubPath(cli, cmd, 'update'), { body: { name }, what: `update ${name}` }),
      );
      if (cli.json(cmd)) return cli.out.json(res.body);
      const { updated, from, to } = res.body;
      if (updated) cli.out.ok(`updated ${name} from ${from} to ${to}`);
      else cli.out.line(`${name} is up to date (${from})`);
    });
}

function peers(cli: Cli, hub: Command): void {
  hub
    .command('peers')
    .description('list the peers this instance knows: configured, and learned from peers')
    .action(async (_f: unknown, cmd: Command) => {
      const res = await cli.client(cmd, { anonymous: true }).request<{ self: { id: string; url: string }; peers: PeerState[] }>('GET', '/peers', { root: HUB, what: 'get the hub peers' });
      if (cli.json(cmd)) return cli.out.json(res.body);
      cli.out.table(peersTable(res.body.self, res.body.peers, Date.now()));
    });
}

export function hubCommand(cli: Cli): Command {
  const hub = new Command('hub').description('the Function Hub: find, inspect, try and install packages published by swirl instances');
  for (const add of [search, show, get, test, install, update, peers]) add(cli, hub);
  return hub;
}
