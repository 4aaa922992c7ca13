import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import type * as Fflate from 'fflate';
import { lazyPackage } from '../../common/lazy-package.ts';
import { zipDirectory } from '../artifact.ts';
import type { Cli } from '../context.ts';
import { UsageError } from '../errors.ts';
import { ConvertError, type Files, type Plan, planLambda, planOpenFaas, stackFunction } from '../convert/plan.ts';
import { putEntity } from './entity.ts';
import { integer } from './options.ts';

const fflate = lazyPackage<typeof Fflate>('fflate');

const pair = (v: string, acc: Record<string, string> = {}): Record<string, string> => {
  const at = v.indexOf('=');
  if (at <= 0) throw new UsageError(`--env takes KEY=VALUE, not '${v}'.`);
  return { ...acc, [v.slice(0, at)]: v.slice(at + 1) };
};
const repeat = (v: string, acc: string[] = []): string[] => [...acc, v];

/** The namespace for the function's ARN: '_' (the key's own) asked of the API, as the Lambda endpoint names it; a dry run does without. */
async function arnNamespace(cli: Cli, cmd: Command, dryRun: boolean | undefined): Promise<string> {
  const ns = cli.namespace(cmd);
  if (ns !== '_' || dryRun) return ns;
  const names = (await cli.client(cmd).request<string[]>('GET', '/namespaces', { what: 'get the namespace of the key' })).body;
  return names[0] ?? ns;
}

function unzip(zip: Uint8Array, what: string): Files {
  try {
    return fflate().unzipSync(zip);
  } catch (e) {
    throw new ConvertError(`${what} is no zip archive (${(e as Error).message}).`);
  }
}

/** Prints the plan, then (unless a dry run) creates the action from it. */
async function apply(cli: Cli, cmd: Command, name: string, what: string, plan: Plan, dryRun: boolean | undefined): Promise<void> {
  const body = {
    exec: { kind: plan.kind, code: Buffer.from(fflate().zipSync(plan.files)).toString('base64'), binary: true, main: 'main' },
    parameters: plan.parameters,
    annotations: plan.annotations,
    limits: plan.limits,
  };
  if (!dryRun) await putEntity(cli, cmd, 'actions', name, body, { update: false, spin: true, label: 'action' });
  cli.out.ok(`${dryRun ? 'would convert' : 'converted'} ${what} to action ${name}`);
  for (const m of plan.mapped) cli.out.line(`  mapped: ${m}`);
  for (const n of plan.notConverted) cli.out.line(`  not converted: ${n}`);
}

interface LambdaFlags {
  handler: string;
  runtime: string;
  env?: Record<string, string>;
  timeout?: number;
  memory?: number;
  layer?: string[];
  region: string;
  dryRun?: boolean;
}

interface OpenFaasFlags {
  template?: string;
  yaml?: string;
  dryRun?: boolean;
}

/** The stack file: --yaml, else `<NAME>.yml` or stack.yml beside the folder or in it (as faas-cli new leaves them). */
function stackFile(folder: string, name: string, given: string | undefined, cwd: string): string | undefined {
  if (given) return resolve(cwd, given);
  const names = [`${name}.yml`, `${basename(folder)}.yml`, 'stack.yml', 'stack.yaml'];
  return [dirname(folder), folder].flatMap((d) => names.map((n) => join(d, n))).find((f) => existsSync(f));
}

export function convertCommand(cli: Cli): Command {
  const convert = new Command('convert').description('make an action from an AWS Lambda zip or an OpenFaaS function folder');
  convert
    .command('lambda')
    .description('convert a Lambda function zip (Node.js or Python) into an action that runs its handler as Lambda does')
    .argument('<zip>', "the function's deployment package (.zip)")
    .argument('<name>', 'the action to create')
    .requiredOption('--handler <file.function>', 'the Lambda handler, e.g. index.handler or lambda_function.lambda_handler')
    .requiredOption('--runtime <runtime>', 'the Lambda runtime: nodejs18.x, nodejs20.x, nodejs22.x, python3.8 … python3.13')
    .option('--env <KEY=VALUE>', "an environment variable of the function (Lambda's Environment; repeatable)", pair)
    .option('--timeout <seconds>', "the function's Timeout in seconds", integer)
    .option('--memory <MB>', "the function's MemorySize in MB", integer)
    .option('--layer <arn>', 'a layer of the function (reported: layers cannot be converted; repeatable)', repeat)
    .option('--region <region>', "the region in the function's ARN", 'us-east-1')
    .option('--dry-run', 'print what would be made, make nothing')
    .action(async (zipPath: string, name: string, f: LambdaFlags, cmd: Command) => {
      const path = resolve(cli.io.cwd, zipPath);
      if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`The file '${zipPath}' does not exist.`);
      const zip = readFileSync(path);
      const plan = planLambda(unzip(zip, `'${zipPath}'`), { name, handler: f.handler, runtime: f.runtime, environment: f.env ?? {}, timeout: f.timeout, memory: f.memory, layers: f.layer, namespace: await arnNamespace(cli, cmd, f.dryRun), region: f.region, zip });
      await apply(cli, cmd, name, `Lambda function ${basename(path)} (${f.runtime}, ${f.handler})`, plan, f.dryRun);
    });
  convert
    .command('openfaas')
    .description('convert an OpenFaaS function folder (as faas-cli new makes it) into a web action')
    .argument('<folder>', "the function's handler folder")
    .argument('<name>', 'the action to create (and the function looked up in the stack file)')
    .option('--template <template>', 'the template (lang): node20, node18, node, python3, python3-http, …; else the stack file says')
    .option('-f, --yaml <file>', 'the stack file (default: NAME.yml or stack.yml beside the folder or in it)')
    .option('--dry-run', 'print what would be made, make nothing')
    .action(async (folderPath: string, name: string, f: OpenFaasFlags, cmd: Command) => {
      const folder = resolve(cli.io.cwd, folderPath);
      if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`The folder '${folderPath}' does not exist.`);
      const file = stackFile(folder, name, f.yaml, cli.io.cwd);
      if (f.yaml && !existsSync(file!)) throw new UsageError(`The stack file '${f.yaml}' does not exist.`);
      // a stack file found (not given) that has no such function is ignored when --template says the template
      const read = () => stackFunction(readFileSync(file!, 'utf8'), name, folderPath);
      const stack = !file ? undefined : f.yaml || !f.template ? read() : (() => { try { return read(); } catch { return undefined; } })();
      const plan = planOpenFaas(unzip(zipDirectory(folder), folderPath), { name, folder: folderPath, template: f.template, stack: stack?.fn });
      if (stack) plan.mapped.unshift(`stack file ${basename(file!)} → function ${stack.name}`);
      await apply(cli, cmd, name, `OpenFaaS function ${folderPath} (${f.template ?? stack?.fn.lang})`, plan, f.dryRun);
    });
  return convert;
}
