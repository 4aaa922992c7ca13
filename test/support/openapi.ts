import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import { expect } from 'chai';
import { API_VERSION } from '../../controller/app.ts';
import { openApiDocument } from '../../controller/openapi.ts';

/**
 * swirl's own OpenAPI document (controller/openapi.ts, served at /api/v1/api-docs) as the
 * test of a response's shape: a body must be an instance of one of its component schemas.
 * The schemas follow OpenWhisk's swagger definitions (same names, same required fields) and
 * list every property a response may carry, so a missing, mistyped or extra field fails.
 */

type Schemas = Record<string, Record<string, unknown>>;

let loaded: { schemas: Schemas; ajv: Ajv; validators: Map<string, ValidateFunction> } | undefined;

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const doc = openApiDocument(API_VERSION) as { components: { schemas: Schemas } };
  // OpenAPI 3.0 schemas are JSON schema with a few keywords of their own (description,
  // example...): tolerated; formats checked. `$ref`s point at #/components/schemas/...
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  // ajv-formats is CommonJS: its plugin is the module itself or its `default`
  const addFormats = ((formatsModule as unknown as { default?: unknown }).default ?? formatsModule) as (a: Ajv) => Ajv;
  addFormats(ajv);
  ajv.addSchema({ $id: 'swirl', components: doc.components });
  loaded = { schemas: doc.components.schemas, ajv, validators: new Map() };
  return loaded;
}

/** The names of the document's component schemas. */
export const schemaNames = (): string[] => Object.keys(load().schemas);

function validator(name: string): ValidateFunction {
  const { schemas, ajv, validators } = load();
  if (!(name in schemas)) throw new Error(`no schema '${name}' in swirl's OpenAPI document`);
  let v = validators.get(name);
  if (!v) {
    v = ajv.getSchema(`swirl#/components/schemas/${name}`);
    if (!v) throw new Error(`cannot compile schema '${name}'`);
    validators.set(name, v);
  }
  return v;
}

const describeErrors = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params ? ' ' + JSON.stringify(e.params) : ''}`).join('; ');

/** The problems with `value` as an instance of the schema `name`, or [] when it conforms. */
export function conformanceErrors(name: string, value: unknown): string[] {
  const v = validator(name);
  return v(value) ? [] : describeErrors(v.errors).split('; ');
}

/** Assert that `value` is an instance of the document's schema `name`. */
export function expectConforms(name: string, value: unknown): void {
  const v = validator(name);
  if (!v(value)) {
    const shown = JSON.stringify(value);
    expect.fail(`not a valid ${name}: ${describeErrors(v.errors)}\nvalue: ${shown.length > 2000 ? shown.slice(0, 2000) + '…' : shown}`);
  }
}

/** Assert that every item of a list conforms to the schema. */
export function expectAllConform(name: string, values: unknown): void {
  expect(values).to.be.an('array');
  for (const v of values as unknown[]) expectConforms(name, v);
}
