import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type Action, type ActionPut, annotation, type KeyValue, newAction, type Stored, updateAction } from '../../common/entities.ts';
import { NotFoundError } from '../../common/errors.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { invalidParameter, LambdaError, notFound } from './errors.ts';
import { CONFIG_PARAM, type HandlerConfig, kindOf, withEntryPoint } from './handlers.ts';

export { LAMBDA_ANNOTATION } from '../../common/lambda-entry.ts';
import { LAMBDA_ANNOTATION } from '../../common/lambda-entry.ts';

interface LambdaAnnotation {
  runtime: string;
  handler: string;
  role?: string;
  description: string;
  codeSha256: string;
  codeSize: number;
}

/** Who calls, and where: the namespace is the ARN's account, the request's signing region its region. */
export interface Caller {
  namespace: string;
  region: string;
}

const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const VERSION = '$LATEST';

/** The function's name from a path's `{FunctionName}`: a name, `account:function:name` or an ARN (a qualifier other than $LATEST is not served). */
export function functionName(param: string): string {
  const parts = param.split(':');
  const at = parts.lastIndexOf('function');
  const name = at >= 0 ? parts[at + 1] : parts.length === 1 ? parts[0] : undefined;
  const qualifier = at >= 0 ? parts[at + 2] : undefined;
  if (!name || !FUNCTION_NAME.test(name)) throw invalidParameter(`1 validation error detected: Value '${param}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:aws:lambda:)?([a-z0-9-]+:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?`);
  if (qualifier !== undefined && qualifier !== VERSION) throw invalidParameter(`Qualifier ${qualifier}: only ${VERSION} is served.`);
  return name;
}

export const arnOf = (c: Caller, name: string) => `arn:aws:lambda:${c.region}:${c.namespace}:function:${name}`;

const code = z.object({ ZipFile: z.string().min(1, 'Code.ZipFile is required (base64 zip): S3 and image code are not served') });
const createRequest = z.object({
  FunctionName: z.string(),
  Runtime: z.string({ error: 'Runtime is required' }),
  Handler: z.string({ error: 'Handler is required' }).min(1).max(128),
  Role: z.string().max(2048).optional(),
  Code: code,
  Description: z.string().max(256).optional(),
  Timeout: z.number().int().min(1).optional(),
  MemorySize: z.number().int().optional(),
  Environment: z.object({ Variables: z.record(z.string(), z.string()).optional() }).optional(),
  PackageType: z.literal('Zip', { error: 'Only PackageType Zip is served' }).optional(),
});
const updateCodeRequest = code;

/** A Lambda request body, checked: InvalidParameterValueException naming what is wrong. */
function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw invalidParameter(r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

/** The zip, with the entry point added, and what Lambda shows of the one uploaded (its SHA-256, base64, and size). */
function packaged(base64: string, kind: 'nodejs:20' | 'python:3') {
  const zip = Buffer.from(base64, 'base64');
  return { code: Buffer.from(withEntryPoint(zip, kind)).toString('base64'), codeSha256: createHash('sha256').update(zip).digest('base64'), codeSize: zip.length };
}

const lambdaOf = (a: Action): LambdaAnnotation | undefined => annotation(a.annotations, LAMBDA_ANNOTATION) as LambdaAnnotation | undefined;
const configOf = (a: Action): HandlerConfig | undefined => a.parameters.find((p) => p.key === CONFIG_PARAM)?.value as HandlerConfig | undefined;
const withKey = (list: KeyValue[], kv: KeyValue) => [...list.filter((x) => x.key !== kv.key), kv];

/** FunctionConfiguration as Lambda answers it. */
export function configuration(c: Caller, a: Action): Record<string, unknown> {
  const l = lambdaOf(a)!;
  const env = configOf(a)?.environment ?? {};
  return {
    FunctionName: a.name,
    FunctionArn: arnOf(c, a.name),
    Runtime: l.runtime,
    Role: l.role ?? '',
    Handler: l.handler,
    CodeSize: l.codeSize,
    Description: l.description,
    Timeout: Math.ceil(a.limits.timeout / 1000),
    MemorySize: a.limits.memory,
    LastModified: new Date(a.updated ?? Date.now()).toISOString().replace('Z', '+0000'),
    CodeSha256: l.codeSha256,
    Version: VERSION,
    ...(Object.keys(env).length ? { Environment: { Variables: env } } : {}),
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: ['x86_64'],
  };
}

/** The Lambda function `name` of the namespace: ResourceNotFound when there is none (or the action was not made as one). */
export async function getFunction(store: EntityStore, c: Caller, name: string, withCode = false): Promise<Stored<Action>> {
  const action = await store.get('action', c.namespace, name, { code: withCode }).catch((e: unknown) => {
    throw e instanceof NotFoundError ? notFound(arnOf(c, name)) : e;
  });
  if (!lambdaOf(action)) throw notFound(arnOf(c, name));
  return action;
}

/** CreateFunction: a new action of the runtime's kind, its zip with the entry point, Timeout and MemorySize as its limits. */
export async function createFunction(store: EntityStore, c: Caller, body: unknown): Promise<Stored<Action>> {
  const req = parse(createRequest, body);
  const name = functionName(req.FunctionName);
  const kind = kindOf(req.Runtime);
  const zip = packaged(req.Code.ZipFile, kind);
  const memory = req.MemorySize ?? 128;
  const config: HandlerConfig = { handler: req.Handler, functionName: name, functionVersion: VERSION, invokedFunctionArn: arnOf(c, name), memoryLimitInMB: memory, environment: req.Environment?.Variables ?? {} };
  const lambda: LambdaAnnotation = { runtime: req.Runtime, handler: req.Handler, ...(req.Role ? { role: req.Role } : {}), description: req.Description ?? '', codeSha256: zip.codeSha256, codeSize: zip.codeSize };
  const put: ActionPut = {
    exec: { kind, code: zip.code, binary: true, main: 'main' },
    parameters: [{ key: CONFIG_PARAM, value: config }],
    annotations: [{ key: LAMBDA_ANNOTATION, value: lambda }],
    limits: { timeout: (req.Timeout ?? 3) * 1000, memory },
  };
  try {
    return await store.put('action', newAction({ namespace: c.namespace, name, callerNamespace: c.namespace }, put));
  } catch (e) {
    if ((e as { status?: number }).status === 409) throw new LambdaError(409, 'ResourceConflictException', `Function already exist: ${name}`);
    throw e;
  }
}

/** UpdateFunctionCode: the new zip, with the entry point, in place of the old; the rest kept. */
export async function updateFunctionCode(store: EntityStore, c: Caller, name: string, body: unknown): Promise<Stored<Action>> {
  const req = parse(updateCodeRequest, body);
  const old = await getFunction(store, c, name, true);
  const lambda = lambdaOf(old)!;
  const zip = packaged(req.ZipFile, kindOf(lambda.runtime));
  const annotations = withKey(old.annotations, { key: LAMBDA_ANNOTATION, value: { ...lambda, codeSha256: zip.codeSha256, codeSize: zip.codeSize } });
  const put: ActionPut = { exec: { kind: old.exec.kind, code: zip.code, binary: true, main: 'main' }, annotations: annotations as ActionPut['annotations'] };
  return store.put('action', updateAction(old, put, c.namespace), old._rev);
}

/** DeleteFunction. */
export async function deleteFunction(store: EntityStore, c: Caller, name: string): Promise<void> {
  const old = await getFunction(store, c, name);
  await store.delete(c.namespace, name, old._rev);
}

const MAX_ITEMS = 50;

/** ListFunctions: the namespace's Lambda functions, newest first, `MaxItems` (≤ 50) at a time; `Marker` is where the next page starts. */
export async function listFunctions(store: EntityStore, c: Caller, query: { Marker?: string; MaxItems?: string }): Promise<{ Functions: unknown[]; NextMarker?: string }> {
  const max = query.MaxItems === undefined ? MAX_ITEMS : Number(query.MaxItems);
  if (!Number.isInteger(max) || max < 1 || max > 10_000) throw invalidParameter(`MaxItems '${query.MaxItems}' must be an integer from 1 to 10000.`);
  const skip = query.Marker === undefined ? 0 : Number(query.Marker);
  if (!Number.isInteger(skip) || skip < 0) throw invalidParameter(`Marker '${query.Marker}' is not one this endpoint gave.`);
  const functions: unknown[] = [];
  let at = skip;
  // summaries carry annotations: only the Lambda functions among the actions are read in full
  for (;;) {
    const page = await store.list('action', { namespace: c.namespace }, { limit: 200, skip: at });
    for (const s of page) {
      at++;
      if (s.namespace !== c.namespace || !annotation(s.annotations, LAMBDA_ANNOTATION)) continue;
      const fn = await store.get('action', c.namespace, s.name, { code: false }).catch(() => undefined);
      if (fn) functions.push(configuration(c, fn));
      if (functions.length === Math.min(max, MAX_ITEMS)) return { Functions: functions, NextMarker: String(at) };
    }
    if (page.length < 200) return { Functions: functions };
  }
}
