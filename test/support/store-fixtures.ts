import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ActivationStatus, type ActivationRecord } from '../../common/activation.ts';
import type { Action, KeyValue, Package, PackageBinding, Rule, Trigger } from '../../common/entities.ts';
import type { Subject } from '../../common/identity.ts';
import { hashKey } from '../../common/credentials.ts';
import { defaultLimits } from '../../common/limits.ts';
import { Sealer } from '../../common/sealing.ts';
import { CouchStore } from '../../common/store/couch-store.ts';
import { EmbeddedCouch } from '../../common/store/embedded-couch.ts';

// ------------------------------------------------------------------------------- store servers

/** An embedded CouchDB-API server on a fresh temporary data directory, with a CouchStore on it. */
export interface EmbeddedStore {
  dataDir: string;
  /** The running server (replaced by restart()). */
  couch: EmbeddedCouch;
  /** The store on the running server (replaced by restart()). */
  store: CouchStore;
  /** Stop the server, start a new one on the same data directory, and return a new, initialised store on it. */
  restart(): Promise<CouchStore>;
  /** Stop the server and remove the data directory. */
  cleanup(): Promise<void>;
}

/** The store seals parameters and secrets with a master key of its own (kept across restarts), as a controller's does. */
export async function startEmbeddedStore(opts: { prefix?: string } = {}): Promise<EmbeddedStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swirl-store-'));
  const sealer = new Sealer(randomBytes(32));
  const open = async (): Promise<{ couch: EmbeddedCouch; store: CouchStore }> => {
    const couch = await EmbeddedCouch.start(dataDir);
    const store = new CouchStore(couch.url, opts.prefix, sealer);
    await store.init();
    return { couch, store };
  };
  let current: { couch: EmbeddedCouch; store: CouchStore } | undefined;
  try {
    current = await open();
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  const handle: EmbeddedStore = {
    dataDir,
    couch: current.couch,
    store: current.store,
    async restart() {
      await handle.store.close();
      await handle.couch.stop();
      const next = await open();
      handle.couch = next.couch;
      handle.store = next.store;
      return next.store;
    },
    async cleanup() {
      if (stopped) return;
      stopped = true;
      try {
        await handle.store.close();
        await handle.couch.stop();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  return handle;
}

// ------------------------------------------------------------------------------- names

let serial = 0;
/** A name no other test in this process uses (letters and digits only, valid as entity name and namespace). */
export const uniqueName = (prefix = 'n'): string => `${prefix}${process.pid}x${(++serial).toString(36)}${randomBytes(2).toString('hex')}`;

/** 32 lower-case hex characters, as OpenWhisk activation ids. */
export const activationId = (): string => randomBytes(16).toString('hex');

// ------------------------------------------------------------------------------- entity builders

interface BaseOpts {
  /** `ns` or `ns/pkg` */
  namespace: string;
  name: string;
  updated?: number;
  version?: string;
  annotations?: KeyValue[];
}

const baseOf = (o: BaseOpts) => ({
  namespace: o.namespace,
  name: o.name,
  version: o.version ?? '0.0.1',
  publish: false,
  annotations: o.annotations ?? [],
  updated: o.updated ?? Date.now(),
});

export function sampleAction(o: BaseOpts & { code?: string; kind?: string; parameters?: KeyValue[] }): Action {
  const kind = o.kind ?? 'nodejs:20';
  return {
    ...baseOf(o),
    annotations: [...(o.annotations ?? []), { key: 'exec', value: kind }],
    exec: { kind, code: o.code ?? 'function main(params) { return { greeting: "hello " + params.name }; }', binary: false },
    parameters: o.parameters ?? [{ key: 'name', value: 'world' }],
    limits: defaultLimits(),
  };
}

export function sampleTrigger(o: BaseOpts & { parameters?: KeyValue[] }): Trigger {
  return { ...baseOf(o), parameters: o.parameters ?? [{ key: 'color', value: 'blue' }], limits: {} };
}

export function sampleRule(o: BaseOpts & { trigger?: string; action?: string; status?: Rule['status'] }): Rule {
  const ns = o.namespace.split('/')[0]!;
  return {
    ...baseOf(o),
    trigger: { path: ns, name: o.trigger ?? 'someTrigger' },
    action: { path: ns, name: o.action ?? 'someAction' },
    status: o.status ?? 'active',
  };
}

export function samplePackage(o: BaseOpts & { binding?: PackageBinding; parameters?: KeyValue[] }): Package {
  return { ...baseOf(o), parameters: o.parameters ?? [{ key: 'region', value: 'eu' }], binding: o.binding ?? {} };
}

export function sampleSubject(o: { subject?: string; namespaces?: string[] } = {}): Subject {
  const subject = o.subject ?? uniqueName('subj');
  const namespaces = o.namespaces ?? [uniqueName('ns')];
  return {
    subject,
    namespaces: namespaces.map((name) => ({ name, uuid: randomUUIDLike(), keyHash: hashKey(randomBytes(32).toString('hex')) })),
  };
}

function randomUUIDLike(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** An activation record in OpenWhisk's shape. `name` may be `pkg/name`; the path annotation follows it. */
export function sampleActivation(o: { namespace: string; name: string; start: number; duration?: number; statusCode?: 0 | 1 | 2 | 3; logs?: string[]; result?: unknown }): ActivationRecord {
  const duration = o.duration ?? 7;
  const status = [ActivationStatus.success, ActivationStatus.applicationError, ActivationStatus.developerError, ActivationStatus.internalError][o.statusCode ?? 0]!;
  return {
    activationId: activationId(),
    namespace: o.namespace,
    name: o.name,
    subject: `${o.namespace}-subject`,
    version: '0.0.1',
    publish: false,
    start: o.start,
    end: o.start + duration,
    duration,
    annotations: [
      { key: 'path', value: `${o.namespace}/${o.name}` },
      { key: 'kind', value: 'nodejs:20' },
      { key: 'limits', value: defaultLimits() },
      { key: 'waitTime', value: 3 },
    ],
    logs: o.logs ?? [`${new Date(o.start).toISOString()} stdout: started ${o.name}`, `${new Date(o.start + duration).toISOString()} stderr: done`],
    response: { status: status.status, statusCode: status.statusCode, success: status.statusCode === 0, result: o.result ?? { ok: true, at: o.start } },
  };
}

// ------------------------------------------------------------------------------- assertions

/** Await a promise that must reject with an instance of `type` (and `message`, when given); returns the error. */
export async function expectReject<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E, message?: string): Promise<E> {
  let settled: { value: unknown } | undefined;
  try {
    settled = { value: await promise };
  } catch (e) {
    expect(e, `rejected with ${String(e)}`).to.be.instanceOf(type);
    if (message !== undefined) expect((e as Error).message).to.equal(message);
    return e as E;
  }
  expect.fail(`expected a rejection with ${type.name}, but it resolved with ${typeof settled.value === 'object' ? 'an object' : String(settled.value).slice(0, 200)}`);
}

/** A digest to compare big strings without printing them when they differ. */
export const digest = (s: string | undefined): string => (s === undefined ? '(undefined)' : `${Buffer.byteLength(s)} bytes sha256:${createHash('sha256').update(s).digest('hex')}`);

/**
 * Source text of `bytes` UTF-8 bytes or a little more, with multi-byte characters, lines
 * that differ, and a marker at both ends (so a truncated or re-encoded copy shows).
 */
export function bigCode(bytes: number, seed = 'a'): string {
  const parts = [`// begin ${seed} ✓\nfunction main() { return { size: ${bytes} }; }\n`];
  let size = Buffer.byteLength(parts[0]!);
  for (let i = 0; size < bytes; i++) {
    const line = `// ${seed} line ${i}: héllo wörld ☃ 🚀 ${i * 7919}\n`;
    parts.push(line);
    size += Buffer.byteLength(line);
  }
  parts.push(`// end ${seed} ✓`);
  return parts.join('');
}
