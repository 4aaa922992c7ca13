import { createHash } from 'node:crypto';
import type * as JsYaml from 'js-yaml';
import { lazyPackage } from '../../common/lazy-package.ts';
import { LIMITS } from '../../common/limits.ts';
import type { KeyValue } from '../../common/key-value.ts';
import { addEntry, addEntryPoint, CONFIG_PARAM as LAMBDA_CONFIG, EntryPointError, type HandlerConfig, LAMBDA_ANNOTATION, LAMBDA_RUNTIMES, lambdaKind, type LambdaKind } from '../../common/lambda-entry.ts';
import { CliError } from '../errors.ts';
import { CONFIG_PARAM as OPENFAAS_CONFIG, NODE_ENTRY, nodeSource, PYTHON_ENTRY, pythonSource } from './openfaas-entry.ts';

/**
 * `swirl convert`'s plans, pure: from a function's files and settings to the action that
 * runs it (kind, files with an entry point, parameters, annotations, limits), with one line
 * per mapping made and one per thing left behind. What cannot run at all is a ConvertError.
 */
export class ConvertError extends CliError {}

/** js-yaml, loaded when a stack file is read: every other command starts without it. */
const yaml = lazyPackage<typeof JsYaml>('js-yaml');

export type Files = Record<string, Uint8Array>;

export interface Plan {
  kind: LambdaKind;
  files: Files;
  parameters: KeyValue[];
  annotations: KeyValue[];
  limits: { timeout?: number; memory?: number };
  mapped: string[];
  notConverted: string[];
}

/** A limit within swirl's range: clamped (and said so) when the source's is outside it. */
function limit(plan: Plan, name: 'timeout' | 'memory', value: number, what: string): void {
  const { min, max, unit } = LIMITS[name];
  const v = Math.min(max, Math.max(min, Math.round(value)));
  plan.limits[name] = v;
  if (v === value) plan.mapped.push(`${what} → ${name} limit ${v} ${unit}`);
  else plan.notConverted.push(`${what}: outside swirl's ${name} range (${min}–${max} ${unit}), set to ${v} ${unit}`);
}

const withEntry = (add: () => Files): Files => {
  try {
    return add();
  } catch (e) {
    throw e instanceof EntryPointError ? new ConvertError(e.message) : e;
  }
};

export interface LambdaOptions {
  name: string;
  handler: string;
  runtime: string;
  environment: Record<string, string>;
  timeout?: number;
  memory?: number;
  layers?: string[];
  /** the ARN's account and region */
  namespace: string;
  region: string;
  /** the zip as uploaded, for what Lambda shows of it */
  zip: Uint8Array;
}

/** Where the handler's code must be in the zip, for the error that names it. */
function handlerFiles(kind: LambdaKind, handler: string): string[] {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1) throw new ConvertError(`The handler '${handler}' is no 'file.function' (e.g. index.handler, lambda_function.lambda_handler).`);
  const base = handler.slice(0, dot);
  if (kind === 'nodejs:20') return ['.js', '.mjs', '.cjs'].map((e) => base + e);
  const path = base.replace(/\./g, '/');
  return [`${path}.py`, `${path}/__init__.py`];
}

/** A Lambda zip as an action: the endpoint's entry point added, Environment in the parameter the endpoint uses, Timeout and MemorySize as limits. */
export function planLambda(files: Files, o: LambdaOptions): Plan {
  const kind = lambdaKind(o.runtime);
  if (!kind) throw new ConvertError(`The runtime '${o.runtime}' cannot be converted: swirl runs Lambda's ${LAMBDA_RUNTIMES}${/^(provided|java|dotnet|ruby|go)/.test(o.runtime) ? `, not ${o.runtime}` : ''}.`);
  if (files.bootstrap) throw new ConvertError("The zip has a 'bootstrap' file: it is a custom-runtime function (provided.*), which cannot be converted.");
  const wanted = handlerFiles(kind, o.handler);
  if (!wanted.some((f) => files[f])) throw new ConvertError(`The handler '${o.handler}' needs ${wanted.join(' or ')} in the zip, and the zip has none of them.`);
  const plan: Plan = { kind, files: withEntry(() => addEntryPoint(files, kind)), parameters: [], annotations: [], limits: {}, mapped: [], notConverted: [] };
  plan.mapped.push(`runtime ${o.runtime} → kind ${kind}`, `handler ${o.handler} → called as Lambda calls it, through the entry point ${kind === 'python:3' ? '__main__.py' : '__swirl_lambda__.cjs'}`);
  const memory = o.memory ?? 128;
  if (o.timeout !== undefined) limit(plan, 'timeout', o.timeout * 1000, `timeout ${o.timeout} s`);
  limit(plan, 'memory', memory, `memory ${memory} MB${o.memory === undefined ? " (Lambda's default)" : ''}`);
  const config: HandlerConfig = {
    handler: o.handler,
    functionName: o.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${o.region}:${o.namespace}:function:${o.name}`,
    memoryLimitInMB: memory,
    environment: o.environment,
  };
  plan.parameters.push({ key: LAMBDA_CONFIG, value: config });
  for (const k of Object.keys(o.environment)) plan.mapped.push(`environment ${k} → process environment, in the parameter ${LAMBDA_CONFIG}`);
  const codeSha256 = createHash('sha256').update(o.zip).digest('base64');
  plan.annotations.push({ key: LAMBDA_ANNOTATION, value: { runtime: o.runtime, handler: o.handler, description: 'converted by swirl convert', codeSha256, codeSize: o.zip.length } });
  plan.mapped.push(`result → {"payload": <the handler's result>}; also served as a Lambda function at /2015-03-31/functions/${o.name}/invocations`);
  for (const l of o.layers ?? []) plan.notConverted.push(`layer ${l}: layers are not served; add the layer's files to the zip`);
  if (Object.keys(files).some((f) => f.endsWith('.node'))) plan.notConverted.push('native modules (.node files) in the zip were built for Lambda\'s Amazon Linux and may not load');
  return plan;
}

/** An OpenFaaS function as stack.yml describes it (the fields the converter reads). */
export interface StackFunction {
  lang?: string;
  handler?: string;
  image?: string;
  environment?: Record<string, unknown>;
  environment_file?: string[];
  secrets?: string[];
  limits?: { memory?: string; cpu?: string };
  requests?: { memory?: string; cpu?: string };
  annotations?: Record<string, unknown>;
  labels?: Record<string, unknown>;
  constraints?: string[];
  build_args?: Record<string, unknown>;
}

/**
 * The function of a stack file (stack.yml, or the `<name>.yml` faas-cli new writes): the one
 * named `name`, else the one whose handler is the folder, else the only one.
 */
export function stackFunction(text: string, name: string, folder: string): { name: string; fn: StackFunction } {
  let doc: unknown;
  try {
    doc = yaml().load(text);
  } catch (e) {
    throw new ConvertError(`The stack file is no valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const functions = (doc as { functions?: unknown } | null)?.functions;
  if (!functions || typeof functions !== 'object') throw new ConvertError('The stack file has no functions section.');
  const entries = Object.entries(functions as Record<string, StackFunction>);
  const base = (p: string | undefined) => (p ?? '').replace(/\/+$/, '').split('/').pop();
  const found = entries.find(([n]) => n === name) ?? entries.find(([, f]) => base(f?.handler) === base(folder)) ?? (entries.length === 1 ? entries[0] : undefined);
  if (!found) throw new ConvertError(`The stack file has no function '${name}' nor one whose handler is ${folder} (it has ${entries.map(([n]) => n).join(', ')}).`);
  return { name: found[0], fn: found[1] ?? {} };
}

/** The watchdog's time limits (Go durations: 10s, 1m30s, 500ms), in milliseconds. */
export function durationMs(v: string): number | undefined {
  const parts = [...String(v).matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== String(v).trim()) return /^\d+$/.test(String(v).trim()) ? Number(v) * 1000 : undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((t, p) => t + Number(p[1]) * unit[p[2]!]!, 0);
}

/** Kubernetes quantities (128Mi, 1Gi, 256M, 500000k) in MB. */
export function memoryMb(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(String(v).trim());
  if (!m) return undefined;
  const unit: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, k: 1000 / 1048576, M: 1e6 / 1048576, G: 1e9 / 1048576, '': 1 / 1048576 };
  return Math.round(Number(m[1]) * unit[m[2] ?? '']!);
}

const TIMEOUTS = ['exec_timeout', 'write_timeout', 'upstream_timeout', 'read_timeout'];
const WATCHDOG = new Set([...TIMEOUTS, 'write_debug', 'combine_output', 'content_type', 'RAW_BODY', 'max_inflight', 'mode', 'fprocess', 'healthcheck_interval', 'prefix_logs', 'log_buffer_size', 'buffer_http', 'suppress_lock', 'http_upstream_url']);

interface Template {
  kind: LambdaKind;
  handler: string;
  entry: string;
  source: string;
  calls: string;
}

/** The templates converted, by name; undefined for one that is not. */
function template(lang: string): Template | undefined {
  if (/^node\d+$/.test(lang)) return { kind: 'nodejs:20', handler: 'handler.js', entry: NODE_ENTRY, source: nodeSource('event', 'handler.js'), calls: 'module.exports = async (event, context)' };
  if (lang === 'node') return { kind: 'nodejs:20', handler: 'handler.js', entry: NODE_ENTRY, source: nodeSource('classic', 'handler.js'), calls: 'module.exports = (context, callback)' };
  if (/^python3(-debian|-flask|-flask-debian)?$/.test(lang)) return { kind: 'python:3', handler: 'handler.py', entry: PYTHON_ENTRY, source: pythonSource('classic'), calls: 'def handle(req) → string' };
  if (/^python3-http(-debian)?$/.test(lang)) return { kind: 'python:3', handler: 'handler.py', entry: PYTHON_ENTRY, source: pythonSource('http'), calls: 'def handle(event, context) → {statusCode, body, headers}' };
  return undefined;
}

function refuseTemplate(lang: string): never {
  if (lang === 'dockerfile') throw new ConvertError("The template 'dockerfile' cannot be converted: the function is whatever its Dockerfile builds. Build and push the image, then run it as a Docker action: swirl action create NAME --docker IMAGE (the image must serve OpenWhisk's /init and /run).");
  if (/^python(2|27)/.test(lang)) throw new ConvertError(`The template '${lang}' cannot be converted: swirl runs Python 3 only.`);
  throw new ConvertError(`The template '${lang}' cannot be converted: swirl converts node (classic), node12 and later (of-watchdog), python3, python3-flask, python3-http and their -debian variants; run other languages as a Docker action (swirl action create NAME --docker IMAGE).`);
}

export interface OpenFaasOptions {
  name: string;
  folder: string;
  /** --template, over the stack file's lang */
  template?: string;
  stack?: StackFunction;
}

/** An OpenFaaS function folder as a raw-http web action: the template's request and response built by a generated entry point. */
export function planOpenFaas(files: Files, o: OpenFaasOptions): Plan {
  const fn = o.stack ?? {};
  const lang = o.template ?? fn.lang;
  if (!lang) throw new ConvertError(`No template for ${o.folder}: give --template (node20, python3-http, ...) or a stack file whose function has a lang.`);
  const t = template(lang) ?? refuseTemplate(lang);
  if (!files[t.handler]) throw new ConvertError(`The folder ${o.folder} has no ${t.handler}: the ${lang} template calls the handler there (${t.calls}).`);
  const plan: Plan = { kind: t.kind, files: withEntry(() => addEntry(files, t.kind, t.entry, t.source)), parameters: [], annotations: [], limits: {}, mapped: [], notConverted: [] };
  plan.mapped.push(`template ${lang} → kind ${t.kind}; ${t.handler} (${t.calls}) called through the entry point ${t.entry}`);
  plan.annotations.push({ key: 'web-export', value: true }, { key: 'raw-http', value: true }, { key: 'final', value: true });
  plan.mapped.push('HTTP → a raw-http web action (method, path, query, headers and body as the template gives them; the answer\'s status, headers and body)');
  const environment: Record<string, string> = {};
  let timeout: [string, number] | undefined;
  for (const [k, v] of Object.entries(fn.environment ?? {})) {
    const ms = TIMEOUTS.includes(k) ? durationMs(String(v)) : undefined;
    if (ms !== undefined && (!timeout || ms > timeout[1])) timeout = [`${k} ${String(v)}`, ms];
    if (TIMEOUTS.includes(k) && ms === undefined) plan.notConverted.push(`environment ${k}=${String(v)}: no duration`);
    else if (WATCHDOG.has(k) && !TIMEOUTS.includes(k)) plan.notConverted.push(`environment ${k}: a setting of OpenFaaS's watchdog, which swirl has no use for`);
    else if (!WATCHDOG.has(k)) {
      environment[k] = String(v);
      plan.mapped.push(`environment ${k} → process environment, in the parameter ${OPENFAAS_CONFIG}`);
    }
  }
  plan.parameters.push({ key: OPENFAAS_CONFIG, value: { environment } });
  if (timeout) limit(plan, 'timeout', timeout[1], timeout[0]);
  const mem = fn.limits?.memory ?? fn.requests?.memory;
  if (mem !== undefined) {
    const mb = memoryMb(mem);
    if (mb === undefined) plan.notConverted.push(`memory ${mem}: not a quantity`);
    else limit(plan, 'memory', mb, `${fn.limits?.memory ? 'limits' : 'requests'}.memory ${mem}`);
  }
  const cpu = fn.limits?.cpu ?? fn.requests?.cpu;
  if (cpu !== undefined) plan.notConverted.push(`cpu ${cpu}: swirl shares CPU by memory, it has no CPU limit`);
  for (const [k, v] of Object.entries(fn.annotations ?? {})) {
    if (k === 'topic') plan.notConverted.push(`annotation topic=${String(v)}: connector topics are not served; fire the action from a trigger and rule`);
    else if (k.startsWith('com.openfaas.')) plan.notConverted.push(`annotation ${k}: an OpenFaaS setting`);
    else {
      plan.annotations.push({ key: k, value: v });
      plan.mapped.push(`annotation ${k} → action annotation ${k}`);
    }
  }
  for (const s of fn.secrets ?? []) plan.notConverted.push(`secret ${s}: not converted (OpenFaaS mounts it at /var/openfaas/secrets/${s}); give it as a parameter and read it from there`);
  for (const f of fn.environment_file ?? []) plan.notConverted.push(`environment_file ${f}: not read; give its variables in the stack file's environment`);
  if (fn.labels && Object.keys(fn.labels).length) plan.notConverted.push(`labels ${Object.keys(fn.labels).join(', ')}: swirl actions have no labels`);
  if (fn.constraints?.length) plan.notConverted.push('constraints: swirl places actions itself');
  if (fn.build_args && Object.keys(fn.build_args).length) plan.notConverted.push('build_args: there is no image build');
  const deps = t.kind === 'nodejs:20' ? packageDependencies(files['package.json']) : requirements(files['requirements.txt']);
  if (deps.length && !(t.kind === 'nodejs:20' && Object.keys(files).some((f) => f.startsWith('node_modules/')))) {
    plan.notConverted.push(`dependencies ${deps.join(', ')}: not installed; ${t.kind === 'nodejs:20' ? 'run npm install in the folder first (node_modules is taken along)' : 'vendor them into the folder (pip install -t FOLDER -r requirements.txt)'}`);
  }
  return plan;
}

function packageDependencies(file: Uint8Array | undefined): string[] {
  try {
    return file ? Object.keys((JSON.parse(new TextDecoder().decode(file)) as { dependencies?: object }).dependencies ?? {}) : [];
  } catch {
    return [];
  }
}

const requirements = (file: Uint8Array | undefined): string[] =>
  file ? new TextDecoder().decode(file).split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean) : [];
