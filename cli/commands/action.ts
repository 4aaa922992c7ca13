import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { Action, KeyValue } from '../../common/entities.ts';
import { knownKinds, resolveKind } from '../../common/kinds.ts';
import { type LimitName, LIMITS, defaultLimits, mergeLimits } from '../../common/limits.ts';
import { buildExec, type ExecFlags, type ExecInput } from '../artifact.ts';
import { merge, web, type WebFlags, webSettings } from './action-web.ts';
import type { Cli } from '../context.ts';
import { ApiError, CliError, EXIT, UsageError } from '../errors.ts';
import { annotation } from '../../common/key-value.ts';
import { entityPath, fqn, qualify } from '../names.ts';
import { keyValues, payload } from '../params.ts';
import { createAndUpdate, deleteCommand, fetchEntity, listEntities, listTarget, printSummary, putEntity, showEntity } from './entity.ts';
import { type AnnotationOptions, integer, type PagingOptions, type ParamOptions, withAnnotations, withPaging, withParams } from './options.ts';

interface PutFlags extends ExecFlags, ParamOptions, AnnotationOptions, WebFlags {
  timeout?: number;
  memory?: number;
  logsize?: number;
  concurrency?: number;
  copy?: boolean;
  delAnnotation?: string[];
}

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

/** The action being updated, or undefined when there is none yet (an update creates it). */
async function existingAction(cli: Cli, cmd: Command, name: string): Promise<Action | undefined> {
  return fetchEntity<Action>(cli, cmd, 'actions', name, { code: 'false' }).catch((e: unknown) => (e instanceof ApiError && e.status === 404 ? undefined : Promise.reject(e)));
}

/**
 * `--copy`: the source action's exec, limits, parameters and annotations (also from a
 * package or binding), under what the command line gives. A parameter the server shows
 * sealed belongs to the source alone (the server opens it for that action only), so it is
 * left out, with a warning that names it.
 */
async function copied(cli: Cli, cmd: Command, source: string | undefined, f: PutFlags): Promise<{ exec: ExecInput; parameters: KeyValue[]; annotations: KeyValue[]; limits: Action['limits'] }> {
  if (!source) throw new UsageError('--copy needs the action to copy: action create NAME SOURCE --copy.');
  const flags = [f.kind && '--kind', f.hub && '--hub', f.docker && '--docker', f.native && '--native', f.sequence && '--sequence', f.main && '--main'].filter(Boolean);
  if (flags.length) throw new UsageError(`Do not give ${flags.join(', ')} with --copy: the copy runs what the source action runs.`);
  const a = await fetchEntity<Action>(cli, cmd, 'actions', source);
  const { kind, code, image, main, binary, components } = a.exec as Action['exec'] & ExecInput & { binary?: boolean };
  const exec = Object.fromEntries(Object.entries({ kind, code, image, main, binary, components }).filter(([, v]) => v !== undefined)) as unknown as ExecInput;
  const sealed = a.parameters.filter((p) => (p as { encryption?: unknown }).encryption !== undefined);
  if (sealed.length) cli.out.note(`warning: the parameters ${sealed.map((p) => `'${p.key}'`).join(', ')} of '${source}' are encrypted for that action alone and are not copied; give them with -p.`);
  return { exec, parameters: a.parameters.filter((p) => !sealed.includes(p)), annotations: a.annotations.filter((x) => x.key !== 'exec'), limits: a.limits };
}

async function put(cli: Cli, cmd: Command, name: string, artifact: string | undefined, f: PutFlags, update: boolean): Promise<void> {
  const lim = limits(f);
  const copy = f.copy ? await copied(cli, cmd, artifact, f) : undefined;
  const exec = copy ? copy.exec : buildExec(artifact, f, { cwd: cli.io.cwd, namespace: cli.namespace(cmd), update });
  const given = keyValues(f.annotation, f.annotationFile, cli.io.cwd);
  const existing = update && (f.web || f.webSecure !== undefined) ? await existingAction(cli, cmd, name) : undefined;
  const web = webSettings(f, copy ? merge(copy.annotations, given) : given, existing?.annotations);
  const delAnnotations = [...(f.delAnnotation ?? []), ...(web.delAnnotations ?? [])];
  const givenParams = keyValues(f.param, f.paramFile, cli.io.cwd);
  const parameters = copy ? merge(copy.parameters, givenParams) : givenParams;
  const allLimits = copy ? { ...copy.limits, ...lim } : lim;
  const body = {
    ...(exec ? { exec } : {}),
    ...(parameters ? { parameters } : {}),
    ...(web.annotations ? { annotations: web.annotations } : {}),
    ...(allLimits ? { limits: allLimits } : {}),
    ...(delAnnotations.length ? { delAnnotations } : {}),
  };
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
      .argument('[artifact]', 'source file, .zip archive, or a directory (zipped for you); with --copy, the action to copy')
      .option('--kind <kind>', `the runtime: ${knownKinds().join(', ')} (or nodejs:default, python:default); told from a .js/.py file`)
      .option('--main <function>', 'the function (or entry point) to call; default main')
      .option('--docker <image>', 'run a Docker image serving /init and /run (kind blackbox)')
      .option('--native', 'the artifact is an executable reading JSON on stdin (kind stdio)')
      .option('--sequence <actions>', 'make a sequence of the comma-separated actions (hub:REF names a hub function)')
      .option('--hub <ref>', 'run a function published on a hub (HOST:PORT/OWNER/PACKAGE/ACTION[@VERSION]), fetched and checked on the first invoke')
      .option('--web <true|false|raw>', 'make it a web action (raw: the raw HTTP request)', web)
      .option('--web-secure <secret>', 'secure the web action: true (a generated secret), false (no secret), or the secret itself; callers send it in X-Require-Whisk-Auth')
      .option('--copy', 'treat ARTIFACT as the name of an existing action to copy (its code, limits, parameters and annotations)')
      .option('-t, --timeout <ms>', `time limit in milliseconds (${LIMITS.timeout.min}–${LIMITS.timeout.max}, default ${LIMITS.timeout.default})`, integer)
      .option('-m, --memory <MB>', `memory limit in MB (${LIMITS.memory.min}–${LIMITS.memory.max}, default ${LIMITS.memory.default})`, integer)
      .option('-l, --logsize <MB>', `log size limit in MB (${LIMITS.logs.min}–${LIMITS.logs.max}, default ${LIMITS.logs.default})`, integer)
      .option('-c, --concurrency <n>', `activations one container may run at once (${LIMITS.concurrency.min}–${LIMITS.concurrency.max}, default 1)`, integer);
    if (update) c.option('--del-annotation <key>', 'delete this annotation from the action (repeatable)', (v: string, acc: string[] = []) => [...acc, v]);
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
