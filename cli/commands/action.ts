import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Action, KeyValue } from '../../common/entities.ts';
import { knownKinds, resolveKind } from '../../common/kinds.ts';
import { type LimitName, LIMITS, defaultLimits, mergeLimits } from '../../common/limits.ts';
import { buildExec, type ExecFlags } from '../artifact.ts';
import type { Cli } from '../context.ts';
import { ApiError, CliError, EXIT, UsageError } from '../errors.ts';
import { annotation } from '../../common/entities.ts';
import { entityPath, fqn, qualify } from '../names.ts';
import { keyValues, payload } from '../params.ts';
import { createAndUpdate, deleteCommand, fetchEntity, listEntities, listTarget, printSummary, putEntity, showEntity } from './entity.ts';
import { type AnnotationOptions, integer, type PagingOptions, type ParamOptions, withAnnotations, withPaging, withParams } from './options.ts';

type Web = 'true' | 'false' | 'raw';

interface PutFlags extends ExecFlags, ParamOptions, AnnotationOptions {
  web?: Web;
  timeout?: number;
  memory?: number;
  logsize?: number;
  concurrency?: number;
}

function web(value: string): Web {
  const v = value.toLowerCase();
  if (v === 'true' || v === 'yes') return 'true';
  if (v === 'false' || v === 'no') return 'false';
  if (v === 'raw') return 'raw';
  throw new InvalidArgumentError('must be true, false or raw');
}

/** The annotations wsk sets for `--web`. */
function webAnnotations(w: Web): KeyValue[] {
  const on = w !== 'false';
  return [
    { key: 'web-export', value: on },
    { key: 'raw-http', value: w === 'raw' },
    { key: 'final', value: on },
  ];
}

const merge = (...lists: (KeyValue[] | undefined)[]): KeyValue[] => {
  const m = new Map<string, unknown>();
  for (const l of lists) for (const kv of l ?? []) m.set(kv.key, kv.value);
  return [...m].map(([key, value]) => ({ key, value }));
};

/** Requested limits, checked against the allowed ranges before anything is sent. */
function limits(f: PutFlags): Partial<Record<LimitName, number>> | undefined {
  const requested: Partial<Record<LimitName, number>> = {};
  const flags: [LimitName, number | undefined][] = [['timeout', f.timeout], ['memory', f.memory], ['logs', f.logsize], ['concurrency', f.concurrency]];
  for (const [name, v] of flags) if (v !== undefined) requested[name] = v;
  if (Object.keys(requested).length === 0) return undefined;
  try {
    mergeLimits(defaultLimits(), requested);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return requested;
}

async function put(cli: Cli, cmd: Command, name: string, artifact: string | undefined, f: PutFlags, update: boolean): Promise<void> {
  const lim = limits(f);
  const exec = buildExec(artifact, f, { cwd: cli.io.cwd, namespace: cli.namespace(cmd), update });
  let annotations = keyValues(f.annotation, f.annotationFile, cli.io.cwd);
  if (f.web) {
    // an update replaces the annotations: keep the action's others, as wsk does
    const existing = update ? (await fetchEntity<Action>(cli, cmd, 'actions', name, { code: 'false' })).annotations.filter((a) => a.key !== 'exec') : [];
    annotations = merge(existing, annotations, webAnnotations(f.web));
  }
  const parameters = keyValues(f.param, f.paramFile, cli.io.cwd);
  const body = { ...(exec ? { exec } : {}), ...(parameters ? { parameters } : {}), ...(annotations ? { annotations } : {}), ...(lim ? { limits: lim } : {}) };
  await putEntity(cli, cmd, 'actions', name, body, { update, spin: !!exec?.code });
}

/** Where an action can be called: its web URL when it is a web action, else its API URL. */
export function actionUrl(base: string, action: Pick<Action, 'namespace' | 'name' | 'annotations'>): string {
  const [ns, pkg] = action.namespace.split('/');
  const enc = encodeURIComponent;
  if (annotation(action.annotations, 'web-export') === true) return `${base}/api/v1/web/${enc(ns!)}/${enc(pkg ?? 'default')}/${enc(action.name)}`;
  return `${base}/api/v1/namespaces/${enc(ns!)}/actions/${pkg ? `${enc(pkg)}/` : ''}${enc(action.name)}`;
}

const EXTENSIONS: Record<string, string> = { nodejs: '.js', python: '.py' };

function save(cli: Cli, action: Action, file: string | undefined): void {
  if (action.exec.kind === 'sequence' || action.exec.code === undefined) throw new CliError(`The action '${action.name}' has no code to save.`);
  const family = resolveKind(action.exec.kind)?.family ?? '';
  const path = resolve(cli.io.cwd, file ?? `${action.name}${action.exec.binary ? '.zip' : (EXTENSIONS[family] ?? '')}`);
  if (existsSync(path)) throw new CliError(`The file '${path}' already exists.`);
  writeFileSync(path, action.exec.binary ? Buffer.from(action.exec.code, 'base64') : action.exec.code, { mode: family === 'stdio' && !action.exec.binary ? 0o755 : 0o644 });
  cli.out.ok(`saved action code to ${path}`);
}

/** What a blocking invoke returns: the activation record (or with -r its result), or an error. */
interface InvokeReply {
  activationId?: string;
  response?: { result?: { error?: unknown }; status?: string };
  error?: unknown;
}

async function invoke(cli: Cli, cmd: Command, name: string, f: ParamOptions & { blocking?: boolean; result?: boolean }): Promise<void> {
  const q = qualify(name, cli.namespace(cmd));
  const blocking = !!(f.blocking || f.result);
  const client = cli.client(cmd);
  const body = payload(f.param, f.paramFile, cli.io.cwd);
  const what = `invoke action '${name}'`;
  const send = () => client.request<InvokeReply>('POST', entityPath('actions', q), { query: { blocking, result: !!f.result }, body, what, accept: [500, 502] });
  const res = blocking ? await cli.spin(`invoking ${fqn(q)}`, send) : await send();
  const record = res.body;
  // a 500/502 without an activation is an error of the system, not of the action
  const failed = res.status >= 500;
  if (failed && typeof record === 'object' && record && 'code' in record && !('activationId' in record) && !f.result) {
    throw new ApiError(res.status, `Unable to ${what}: ${String(record.error)}`, String((record as { code: unknown }).code), record);
  }
  if (cli.json(cmd) || f.result) cli.out.json(record);
  else if (res.status === 202 && blocking) {
    cli.out.ok(`invoked ${fqn(q)}, but the request has not yet finished, with id ${record.activationId}`);
    cli.exitCode = EXIT.accepted;
  } else {
    cli.out.ok(`invoked ${fqn(q)} with id ${record.activationId}`);
    if (blocking) cli.out.json(record);
  }
  if (failed) {
    const why = (f.result ? (record as { error?: unknown }).error : record.response?.result?.error) ?? record.response?.status ?? 'the action failed';
    throw new ApiError(res.status, `Unable to ${what}: ${typeof why === 'string' ? why : JSON.stringify(why)}`, res.txid, record);
  }
}

const NAME = 'action name: NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME';

export function actionCommand(cli: Cli): Command {
  const action = new Command('action').description('work with actions');
  createAndUpdate(action, 'action', (c, update) => {
    c.argument('<name>', NAME)
      .argument('[artifact]', 'source file, .zip archive, or a directory (zipped for you)')
      .option('--kind <kind>', `the runtime: ${knownKinds().join(', ')} (or nodejs:default, python:default); told from a .js/.py file`)
      .option('--main <function>', 'the function (or entry point) to call; default main')
      .option('--docker <image>', 'run a Docker image serving /init and /run (kind blackbox)')
      .option('--native', 'the artifact is an executable reading JSON on stdin (kind stdio)')
      .option('--sequence <actions>', 'make a sequence of the comma-separated actions')
      .option('--web <true|false|raw>', 'make it a web action (raw: the raw HTTP request)', web)
      .option('-t, --timeout <ms>', `time limit in milliseconds (${LIMITS.timeout.min}–${LIMITS.timeout.max}, default ${LIMITS.timeout.default})`, integer)
      .option('-m, --memory <MB>', `memory limit in MB (${LIMITS.memory.min}–${LIMITS.memory.max}, default ${LIMITS.memory.default})`, integer)
      .option('-l, --logsize <MB>', `log size limit in MB (${LIMITS.logs.min}–${LIMITS.logs.max}, default ${LIMITS.logs.default})`, integer)
      .option('-c, --concurrency <n>', `activations one container may run at once (${LIMITS.concurrency.min}–${LIMITS.concurrency.max}, default 1)`, integer);
    withAnnotations(withParams(c)).action((name: string, artifact: string | undefined, f: PutFlags, cmd: Command) => put(cli, cmd, name, artifact, f, update));
  });

  withParams(
    action
      .command('invoke')
      .description('invoke an action')
      .argument('<name>', NAME)
      .option('-b, --blocking', 'wait for the result and print the activation')
      .option('-r, --result', 'wait and print only the result (implies --blocking)'),
  ).action((name: string, f: ParamOptions & { blocking?: boolean; result?: boolean }, cmd: Command) => invoke(cli, cmd, name, f));

  action
    .command('get')
    .description('get an action')
    .argument('<name>', NAME)
    .argument('[field]', 'print only this field of the action (e.g. exec, limits)')
    .option('--url', "print the action's URL (its web URL for a web action)")
    .option('--save', "save the action's code to a file named after the action")
    .option('--save-as <file>', "save the action's code to FILE")
    .option('-s, --summary', 'summarize the action')
    .action(async (name: string, field: string | undefined, f: { url?: boolean; save?: boolean; saveAs?: string; summary?: boolean }, cmd: Command) => {
      // like wsk, get shows the code; --url and --summary do without it
      const entity = await fetchEntity<Action>(cli, cmd, 'actions', name, f.url || f.summary ? { code: 'false' } : {});
      if (f.save || f.saveAs) return save(cli, entity, f.saveAs);
      if (f.summary) return printSummary(cli, 'actions', entity);
      if (f.url) {
        const url = actionUrl(cli.client(cmd).base, entity);
        if (cli.json(cmd)) return cli.out.json({ url });
        cli.out.ok(`got action ${name}`);
        return cli.out.line(url);
      }
      showEntity(cli, cmd, 'actions', name, entity, field);
    });

  withPaging(action.command('list').description('list actions').argument('[namespace or package]', '/NAMESPACE, or a PACKAGE to list its actions')).action(
    (target: string | undefined, f: PagingOptions, cmd: Command) => {
      const { namespace, pkg } = listTarget(target, cli.namespace(cmd));
      return listEntities(cli, cmd, 'actions', namespace, f, pkg);
    },
  );

  deleteCommand(cli, action, 'actions', NAME).description('delete an action');

  return action;
}
