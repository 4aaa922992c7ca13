import { z } from 'zod';
import { BadRequestError, Messages, PayloadTooLargeError } from './errors.ts';
import { stringifyBounded } from './json.ts';
import { resolveKind, knownKinds } from './kinds.ts';
import { type ActionLimits, defaultLimits, mergeLimits, SIZES } from './limits.ts';
import type { KeyValue } from './key-value.ts';
import { parseFunctionRef } from './hub/ref.ts';
import { entityPath, parseQualifiedName, qualifiedString, type QualifiedName } from './names.ts';

/**
 * The entity model: OpenWhisk's JSON shapes for actions, triggers, rules and packages,
 * the zod schemas that validate what a PUT may carry, and the functions that turn a
 * request into a new entity or an update of an existing one.
 */

export type EntityKind = 'action' | 'trigger' | 'rule' | 'package';

/** URL collection name → entity kind. */
export const COLLECTIONS = { actions: 'action', triggers: 'trigger', rules: 'rule', packages: 'package' } as const satisfies Record<string, EntityKind>;
export type Collection = keyof typeof COLLECTIONS;

export { annotation, type KeyValue } from './key-value.ts';

export interface EntityBase {
  /** `ns`, or `ns/pkg` for an action inside a package. */
  namespace: string;
  name: string;
  version: string;
  publish: boolean;
  annotations: KeyValue[];
  updated: number;
}

export interface ActionExec {
  kind: string;
  code?: string;
  image?: string;
  main?: string;
  binary: boolean;
  components?: string[];
  /** Kind `hub`: the function REF it runs (fetched on demand, controller/hub/on-demand.ts). */
  ref?: string;
}

export interface Action extends EntityBase {
  exec: ActionExec;
  parameters: KeyValue[];
  limits: ActionLimits;
}

export interface PathName {
  name: string;
  path: string;
}

/** What a trigger keeps of each of its rules (OpenWhisk's ReducedRule): the rule's status lives here. */
export interface ReducedRule {
  action: PathName;
  status: 'active' | 'inactive';
}

export interface Trigger extends EntityBase {
  parameters: KeyValue[];
  limits: Record<string, never>;
  /** The rules it fires, keyed by the rule's fully qualified name (`ns/rule`). */
  rules?: Record<string, ReducedRule>;
}

export interface Rule extends EntityBase {
  trigger: PathName;
  action: PathName;
  status: ReducedRule['status'];
}

export interface PackageBinding {
  namespace: string;
  name: string;
}

export interface Package extends EntityBase {
  parameters: KeyValue[];
  /** `{}` for a package, `{namespace, name}` for a binding. */
  binding: PackageBinding | Record<string, never>;
}

export type Entity = Action | Trigger | Rule | Package;
export interface EntityOf {
  action: Action;
  trigger: Trigger;
  rule: Rule;
  package: Package;
}

/** What a listing shows of an entity (OpenWhisk's brief form): no code, no parameters. */
export type EntitySummary = EntityBase & {
  exec?: { kind: string; binary: boolean };
  limits?: ActionLimits;
  status?: Rule['status'];
  trigger?: PathName;
  action?: PathName;
  binding?: Package['binding'];
};

/** A stored entity carries its kind and document revision. */
export type Stored<T extends Entity = Entity> = T & { entityType: EntityKind; _rev: string };

// ---------------------------------------------------------------------------------------
// Request schemas (what PUT accepts). Unknown fields are ignored, as OpenWhisk does.

const keyValues = z
  .array(z.object({ key: z.string().min(1, 'key must not be empty'), value: z.unknown().optional() }).transform((kv) => ({ key: kv.key, value: kv.value ?? null })))
  .max(10_000);

/** Parameters: key-value pairs, each perhaps sealed as the API showed it (`encryption`). */
const parameterValues = z
  .array(
    z
      .object({ key: z.string().min(1, 'key must not be empty'), value: z.unknown().optional(), encryption: z.string().optional() })
      .transform((kv) => ({ key: kv.key, value: kv.value ?? null, ...(kv.encryption !== undefined ? { encryption: kv.encryption } : {}) })),
  )
  .max(10_000);

const limitsInput = z
  .object({
    timeout: z.number().optional(),
    memory: z.number().optional(),
    logs: z.number().optional(),
    concurrency: z.number().optional(),
  })
  .partial();

const execInput = z.object({
  kind: z.string().min(1, 'kind is required'),
  code: z.string().optional(),
  image: z.string().min(1).max(512).regex(/^[\w][\w.\-/:@]*$/, 'image must be a docker image reference').optional(),
  main: z.string().min(1).max(256).optional(),
  binary: z.boolean().optional(),
  components: z.array(z.string()).optional(),
  ref: z.string().max(1024).optional(),
});

export const actionPutSchema = z.object({
  exec: execInput.optional(),
  parameters: parameterValues.optional(),
  annotations: keyValues.optional(),
  limits: limitsInput.optional(),
  publish: z.boolean().optional(),
  delAnnotations: z.array(z.string()).optional(),
});

export const triggerPutSchema = z.object({
  parameters: parameterValues.optional(),
  annotations: keyValues.optional(),
  limits: z.object({}).passthrough().optional(),
  publish: z.boolean().optional(),
});

export const rulePutSchema = z.object({
  trigger: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  annotations: keyValues.optional(),
  publish: z.boolean().optional(),
  status: z.enum(['active', 'inactive', '']).optional(),
});

export const packagePutSchema = z.object({
  parameters: parameterValues.optional(),
  annotations: keyValues.optional(),
  publish: z.boolean().optional(),
  binding: z.union([z.object({ namespace: z.string().optional(), name: z.string().optional() }), z.null()]).optional(),
});

export type ActionPut = z.infer<typeof actionPutSchema>;
export type TriggerPut = z.infer<typeof triggerPutSchema>;
export type RulePut = z.infer<typeof rulePutSchema>;
export type PackagePut = z.infer<typeof packagePutSchema>;

export const putSchemas = { action: actionPutSchema, trigger: triggerPutSchema, rule: rulePutSchema, package: packagePutSchema } as const;

/** Validate a request body against a schema; a failure is a 400 that says which field and why. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError(Messages.malformedBody('expected a JSON object'));
  const r = schema.safeParse(body);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new BadRequestError(Messages.malformedBody(why));
  }
  return r.data;
}

// ---------------------------------------------------------------------------------------
// Versions

export const INITIAL_VERSION = '0.0.1';

/** Bump the patch number: 0.0.1 → 0.0.2. */
export function bumpVersion(v: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m) return INITIAL_VERSION;
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}`;
}

// ---------------------------------------------------------------------------------------
// Builders: request → entity

const ZIP_MAGIC_BASE64 = /^UEs[DFH]B/;
const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

/** Code is binary when it is base64 of a zip archive (what wsk sends for .zip files and directories). */
export const isBinaryCode = (code: string): boolean => ZIP_MAGIC_BASE64.test(code) && BASE64.test(code);

function checkSize(field: string, value: unknown, allowed: number): void {
  if (value === undefined) return;
  const size = Buffer.byteLength(typeof value === 'string' ? value : stringifyBounded(value));
  if (size > allowed) throw new PayloadTooLargeError(Messages.entityTooBig(field, size, allowed));
}

const MAX_SEQUENCE = 50;

function buildExec(input: z.infer<typeof execInput>, callerNamespace: string): ActionExec {
  const info = resolveKind(input.kind);
  if (!info) throw new BadRequestError(`kind '${input.kind}' is not supported; supported kinds are ${knownKinds().join(', ')}.`);
  const exec: ActionExec = { kind: info.kind, binary: false };
  if (info.kind === 'sequence') {
    const comps = input.components ?? [];
    if (comps.length === 0) throw new BadRequestError('No component specified for the sequence.');
    if (comps.length > MAX_SEQUENCE) throw new BadRequestError('Too many actions in the sequence.');
    exec.components = comps.map((c) => {
      if (c.startsWith(HUB_COMPONENT)) return hubComponent(c);
      const q = parseQualifiedName(c, callerNamespace);
      return qualifiedString(q);
    });
    return exec;
  }
  if (info.kind === 'hub') return { kind: 'hub', binary: false, ref: hubRef(input.ref) };
  if (info.kind === 'blackbox') {
    if (!input.image) throw new BadRequestError(Messages.malformedBody('exec.image: required for kind blackbox'));
    exec.image = input.image;
  }
  if (input.code !== undefined) {
    checkSize('exec.code', input.code, SIZES.actionCode);
    exec.code = input.code;
    exec.binary = isBinaryCode(input.code);
  } else if (info.code === 'required') {
    throw new BadRequestError(Messages.malformedBody(`exec.code: required for kind ${info.kind}`));
  }
  if (input.main !== undefined) exec.main = input.main;
  return exec;
}

// ---- Function Hub: functions of other instances, by REF (fetched on demand) ----
/** A sequence component that names a hub function: `hub:<function REF>`. */
export const HUB_COMPONENT = 'hub:';

/** A kind `hub` action's `exec.ref`: a function REF (checked, kept as written: a URL form keeps its scheme). */
function hubRef(ref: string | undefined): string {
  if (!ref) throw new BadRequestError(Messages.malformedBody('exec.ref: required for kind hub (a function REF: <host:port>/<owner>/<package>/<action>[@<version>])'));
  parseFunctionRef(ref);
  return ref.trim();
}

const hubComponent = (c: string): string => HUB_COMPONENT + hubRef(c.slice(HUB_COMPONENT.length));

/** Annotations with `exec` set to the action's kind, as OpenWhisk keeps it for listings. */
function withExecAnnotation(annotations: KeyValue[], kind: string): KeyValue[] {
  return [...annotations.filter((a) => a.key !== 'exec'), { key: 'exec', value: kind }];
}

interface Target {
  /** `ns` or `ns/pkg` */
  namespace: string;
  name: string;
  callerNamespace: string;
}

function base(t: Target, publish: boolean | undefined, annotations: KeyValue[] | undefined, now: number): EntityBase {
  return { namespace: t.namespace, name: t.name, version: INITIAL_VERSION, publish: publish ?? false, annotations: annotations ?? [], updated: now };
}

function bumped<T extends EntityBase>(old: T, publish: boolean | undefined, annotations: KeyValue[] | undefined, now: number): EntityBase {
  return { namespace: old.namespace, name: old.name, version: bumpVersion(old.version), publish: publish ?? old.publish, annotations: annotations ?? old.annotations, updated: now };
}

export function newAction(t: Target, put: ActionPut, now = Date.now()): Action {
  if (!put.exec) throw new BadRequestError(Messages.malformedBody('exec: required to create an action'));
  checkSize('parameters', put.parameters, SIZES.parameters);
  checkSize('annotations', put.annotations, SIZES.parameters);
  const exec = buildExec(put.exec, t.callerNamespace);
  const b = base(t, put.publish, put.annotations, now);
  return { ...b, annotations: withExecAnnotation(b.annotations, exec.kind), exec, parameters: put.parameters ?? [], limits: mergeLimits(defaultLimits(), put.limits) };
}

/** OpenWhisk's update semantics: what the request leaves out keeps its old value. */
export function updateAction(old: Action, put: ActionPut, callerNamespace: string, now = Date.now()): Action {
  checkSize('parameters', put.parameters, SIZES.parameters);
  checkSize('annotations', put.annotations, SIZES.parameters);
  const exec = put.exec ? buildExec(put.exec, callerNamespace) : old.exec;
  const b = bumped(old, put.publish, put.annotations, now);
  let annotations = b.annotations;
  if (put.delAnnotations?.length) annotations = annotations.filter((a) => !put.delAnnotations!.includes(a.key));
  return { ...b, annotations: withExecAnnotation(annotations, exec.kind), exec, parameters: put.parameters ?? old.parameters, limits: mergeLimits(old.limits, put.limits) };
}

export function newTrigger(t: Target, put: TriggerPut, now = Date.now()): Trigger {
  checkSize('parameters', put.parameters, SIZES.parameters);
  return { ...base(t, put.publish, put.annotations, now), parameters: put.parameters ?? [], limits: {} };
}

export function updateTrigger(old: Trigger, put: TriggerPut, now = Date.now()): Trigger {
  checkSize('parameters', put.parameters, SIZES.parameters);
  // the rules are not the request's to change: rule writes maintain them
  return { ...bumped(old, put.publish, put.annotations, now), parameters: put.parameters ?? old.parameters, limits: {}, ...(old.rules ? { rules: old.rules } : {}) };
}

export const pathName = (q: QualifiedName): PathName => ({ name: q.name, path: entityPath(q) });

export function newRule(t: Target, put: RulePut, trigger: QualifiedName, action: QualifiedName, now = Date.now()): Rule {
  return { ...base(t, put.publish, put.annotations, now), trigger: pathName(trigger), action: pathName(action), status: put.status === 'inactive' ? 'inactive' : 'active' };
}

export function updateRule(old: Rule, put: RulePut, trigger: QualifiedName | undefined, action: QualifiedName | undefined, now = Date.now()): Rule {
  return {
    ...bumped(old, put.publish, put.annotations, now),
    trigger: trigger ? pathName(trigger) : old.trigger,
    action: action ? pathName(action) : old.action,
    status: put.status === 'active' || put.status === 'inactive' ? put.status : old.status,
  };
}

export function newPackage(t: Target, put: PackagePut, binding: PackageBinding | undefined, now = Date.now()): Package {
  checkSize('parameters', put.parameters, SIZES.parameters);
  return { ...base(t, put.publish, put.annotations, now), parameters: put.parameters ?? [], binding: binding ?? {} };
}

export function updatePackage(old: Package, put: PackagePut, binding: PackageBinding | undefined, now = Date.now()): Package {
  checkSize('parameters', put.parameters, SIZES.parameters);
  return { ...bumped(old, put.publish, put.annotations, now), parameters: put.parameters ?? old.parameters, binding: binding ?? old.binding };
}

export const isBinding = (p: Package): p is Package & { binding: PackageBinding } => 'name' in p.binding && typeof p.binding.name === 'string';

/** The entity as the API returns it: without store bookkeeping. */
export function publicView(e: Stored | Entity): Entity {
  const { _rev: _r, entityType: _t, ...rest } = e as Stored;
  return rest as Entity;
}

