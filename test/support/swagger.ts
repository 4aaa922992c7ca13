import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import { expect } from 'chai';
import { KINDS } from '../../common/kinds.ts';

/**
 * OpenWhisk's REST API description (swagger 2.0), kept beside the repository as
 * `../shared/reference/openwhisk-apiv1-swagger.json`, and a check that a response body
 * conforms to one of its definitions.
 */

const FILE = 'shared/reference/openwhisk-apiv1-swagger.json';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the swagger file is: beside the repository (found from this file or from the working directory). */
export function swaggerPath(): string {
  const candidates = [resolve(repoRoot, '..', FILE), resolve(process.cwd(), '..', FILE), resolve(process.cwd(), FILE)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`OpenWhisk swagger file not found; looked at:\n  ${candidates.join('\n  ')}`);
  return found;
}

interface Swagger {
  swagger: string;
  definitions: Record<string, Record<string, unknown>>;
}

/**
 * The swagger file's `ActionExec.kind` enum lists the runtimes of an OpenWhisk deployment;
 * swirl's own kinds (python:3, stdio...) are valid kinds too, so they are added to it.
 */
function withSwirlKinds(definitions: Swagger['definitions']): Swagger['definitions'] {
  const copy = structuredClone(definitions);
  const kind = (copy.ActionExec?.properties as Record<string, { enum?: string[] }> | undefined)?.kind;
  if (kind?.enum) {
    const swirl = KINDS.flatMap((k) => (k.default ? [k.kind, `${k.family}:default`] : [k.kind]));
    kind.enum = [...new Set([...kind.enum, ...swirl])];
  }
  return copy;
}

let loaded: { swagger: Swagger; ajv: Ajv; validators: Map<string, ValidateFunction> } | undefined;

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const swagger = JSON.parse(readFileSync(swaggerPath(), 'utf8')) as Swagger;
  // swagger 2.0 definitions are draft-4-ish JSON schema; keywords ajv does not know
  // (description, default on $ref siblings...) are tolerated, formats such as int32 checked
  const ajv = new Ajv({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: its plugin is the module itself or its `default`
  const addFormats = ((formatsModule as unknown as { default?: unknown }).default ?? formatsModule) as (a: Ajv) => Ajv;
  addFormats(ajv);
  ajv.addSchema({ $id: 'openwhisk', definitions: withSwirlKinds(swagger.definitions) });
  loaded = { swagger, ajv, validators: new Map() };
  return loaded;
}

/** The names of the swagger file's definitions. */
export const definitionNames = (): string[] => Object.keys(load().swagger.definitions);

function validator(name: string): ValidateFunction {
  const { swagger, ajv, validators } = load();
  if (!(name in swagger.definitions)) throw new Error(`no definition '${name}' in the OpenWhisk swagger file`);
  let v = validators.get(name);
  if (!v) {
    v = ajv.getSchema(`openwhisk#/definitions/${name}`);
    if (!v) throw new Error(`cannot compile definition '${name}'`);
    validators.set(name, v);
  }
  return v;
}

const describeErrors = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params ? ' ' + JSON.stringify(e.params) : ''}`).join('; ');

/** The problems with `value` as an instance of `#/definitions/<name>`, or [] when it conforms. */
export function conformanceErrors(name: string, value: unknown): string[] {
  const v = validator(name);
  return v(value) ? [] : describeErrors(v.errors).split('; ');
}

/** Assert that `value` is an instance of the swagger file's `#/definitions/<name>`. */
export function expectConforms(name: string, value: unknown): void {
  const v = validator(name);
  if (!v(value)) {
    const shown = JSON.stringify(value);
    expect.fail(`not a valid ${name}: ${describeErrors(v.errors)}\nvalue: ${shown.length > 2000 ? shown.slice(0, 2000) + '…' : shown}`);
  }
}

/** Assert that every item of a list conforms to the definition. */
export function expectAllConform(name: string, values: unknown): void {
  expect(values).to.be.an('array');
  for (const v of values as unknown[]) expectConforms(name, v);
}
