import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import type { Action, Entity, EntityKind, Package, Rule, Stored } from '../../common/entities.ts';
import { ConflictError, Messages, NotFoundError } from '../../common/errors.ts';
import type { ApiDoc } from '../../common/api-doc.ts';
import type { FeedDoc } from '../../common/feed.ts';
import { SIZES } from '../../common/limits.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import {
  bigCode,
  digest,
  expectReject,
  sampleAction,
  sampleActivation,
  samplePackage,
  sampleRule,
  sampleSubject,
  sampleTrigger,
  uniqueName,
} from '../support/store-fixtures.ts';

export interface StoreUnderTest {
  store: EntityStore;
  /** Stop the backing server and start it again on the same data; returns a store on the new server. */
  restart?: () => Promise<EntityStore>;
  teardown: () => Promise<void>;
}

/** A fixed point in time, so listings order by the `updated` / `start` values the tests choose. */
const T0 = 1_700_000_000_000;
const ALL = { limit: 200, skip: 0 };

/** Build a sample entity of a kind; packaged names (`ns/pkg`) are allowed for actions. */
function sample(kind: EntityKind, namespace: string, name: string, updated = Date.now()): Entity {
  switch (kind) {
    case 'action':
      return sampleAction({ namespace, name, updated });
    case 'trigger':
      return sampleTrigger({ namespace, name, updated });
    case 'rule':
      return sampleRule({ namespace, name, updated });
    case 'package':
      return samplePackage({ namespace, name, updated });
  }
}

/** A change a user would make to an entity of the kind, with the version bumped. */
function changed(kind: EntityKind, e: Entity): Entity {
  const base = { ...e, version: '0.0.2', updated: e.updated + 1, annotations: [...e.annotations, { key: 'description', value: 'updated' }] };
  switch (kind) {
    case 'action':
      return { ...(base as Action), exec: { ...(e as Action).exec, code: 'function main() { return { v: 2 }; }' }, parameters: [{ key: 'name', value: 'again' }] };
    case 'trigger':
      return { ...base, parameters: [{ key: 'color', value: 'red' }] } as Entity;
    case 'rule':
      return { ...base, status: 'inactive' } as Entity;
    case 'package':
      return { ...base, publish: true, parameters: [] } as Entity;
  }
}

/** What OpenWhisk shows of an entity in a listing: no code, no parameters, no store bookkeeping. */
function summary(e: Stored): Record<string, unknown> {
  const brief: Record<string, unknown> = { namespace: e.namespace, name: e.name, version: e.version, publish: e.publish, annotations: e.annotations, updated: e.updated };
  if (e.entityType === 'action') Object.assign(brief, { exec: { kind: (e as Action).exec.kind, binary: (e as Action).exec.binary }, limits: (e as Action).limits });
  if (e.entityType === 'rule') Object.assign(brief, { status: (e as Rule).status, trigger: (e as Rule).trigger, action: (e as Rule).action });
  if (e.entityType === 'package') brief.binding = (e as Package).binding;
  return brief;
}

const names = (rows: Array<{ name: string }>): string[] => rows.map((r) => r.name);
const ids = (rows: ActivationRecord[]): string[] => rows.map((r) => r.activationId);

/**
 * The EntityStore contract, run against one implementation. `setup` is called once for the
 * whole suite; every test works in namespaces of its own, so tests do not see each other.
 */
export function storeConformance(name: string, setup: () => Promise<StoreUnderTest>, opts: { restartable: boolean }): void {
  describe(`EntityStore conformance: ${name}`, function () {
    this.timeout(20_000);
    let ctx: StoreUnderTest | undefined;
    let store: EntityStore;

    before(async function () {
      this.timeout(60_000);
      ctx = await setup();
      store = ctx.store;
    });

    after(async function () {
      this.timeout(60_000);
      await ctx?.teardown();
    });

    // ------------------------------------------------------------------------------- CRUD
    describe('CRUD of every entity kind', function () {
      const cases: Array<{ kind: EntityKind; path: (ns: string) => string; entityName: string }> = [
        { kind: 'action', path: (ns) => ns, entityName: 'hello' },
        { kind: 'action', path: (ns) => `${ns}/utils`, entityName: 'packaged' },
        { kind: 'trigger', path: (ns) => ns, entityName: 'tick' },
        { kind: 'rule', path: (ns) => ns, entityName: 'on-tick' },
        { kind: 'package', path: (ns) => ns, entityName: 'utils' },
        // names may hold spaces, @, ., & and - (they end up in document ids and URLs)
        { kind: 'action', path: () => `me@example.com_dev`, entityName: 'a b&c@d.e-f' },
      ];
      for (const c of cases) {
        it(`${c.kind} ${c.path('<ns>')}/${c.entityName}: create, get, update with rev, delete`, async function () {
          const path = c.path(uniqueName('crud'));
          const entity = sample(c.kind, path, c.entityName);

          const created = await store.put(c.kind, entity);
          expect(created._rev).to.be.a('string').with.lengthOf.above(0);
          expect(created).to.deep.equal({ ...entity, entityType: c.kind, _rev: created._rev });

          const got = await store.get(c.kind, path, c.entityName);
          expect(got).to.deep.equal({ ...entity, entityType: c.kind, _rev: created._rev });
          expect(await store.find(path, c.entityName)).to.deep.equal(got);

          const update = changed(c.kind, entity);
          const updated = await store.put(c.kind, update, got._rev);
          expect(updated._rev).to.be.a('string').and.not.equal(created._rev);
          expect(updated).to.deep.equal({ ...update, entityType: c.kind, _rev: updated._rev });
          expect(await store.get(c.kind, path, c.entityName)).to.deep.equal({ ...update, entityType: c.kind, _rev: updated._rev });

          await store.delete(path, c.entityName, updated._rev);
          await expectReject(store.get(c.kind, path, c.entityName), NotFoundError, Messages.resourceDoesNotExist);
          expect(await store.find(path, c.entityName)).to.equal(undefined);

          // the name is free again
          const again = await store.put(c.kind, entity);
          expect((await store.get(c.kind, path, c.entityName))._rev).to.equal(again._rev);
        });
      }

      it('get of a missing entity is a NotFoundError; find gives undefined', async function () {
        const ns = uniqueName('missing');
        for (const kind of ['action', 'trigger', 'rule', 'package'] as const) {
          await expectReject(store.get(kind, ns, 'nothing'), NotFoundError);
        }
        await expectReject(store.get('action', `${ns}/pkg`, 'nothing'), NotFoundError);
        expect(await store.find(ns, 'nothing')).to.equal(undefined);
      });

      it('delete of a missing entity is a NotFoundError', async function () {
        const ns = uniqueName('missing');
        const other = await store.put('action', sampleAction({ namespace: uniqueName('other'), name: 'x' }));
        await expectReject(store.delete(ns, 'nothing', other._rev), NotFoundError);
        await expectReject(store.delete(ns, 'x', other._rev), NotFoundError);
      });
    });

    // ------------------------------------------------------------------------------- conflicts
    describe('conflicts', function () {
      it("creating an entity twice is a ConflictError 'resource already exists' and keeps the first", async function () {
        const ns = uniqueName('dup');
        for (const kind of ['action', 'trigger', 'rule', 'package'] as const) {
          const first = await store.put(kind, sample(kind, ns, `${kind}1`, T0));
          await expectReject(store.put(kind, sample(kind, ns, `${kind}1`, T0 + 5)), ConflictError, Messages.entityExists);
          const got = await store.get(kind, ns, `${kind}1`);
          expect(got._rev).to.equal(first._rev);
          expect(got.updated).to.equal(T0);
        }
      });

      it('updating with a stale revision is a ConflictError and does not overwrite', async function () {
        const ns = uniqueName('stale');
        const action = sampleAction({ namespace: ns, name: 'a', updated: T0 });
        const v1 = await store.put('action', action);
        const v2 = await store.put('action', { ...action, version: '0.0.2', updated: T0 + 1 }, v1._rev);
        await expectReject(store.put('action', { ...action, version: '0.0.3', updated: T0 + 2 }, v1._rev), ConflictError);
        const got = await store.get('action', ns, 'a');
        expect(got.version).to.equal('0.0.2');
        expect(got._rev).to.equal(v2._rev);
      });

      it('deleting with a stale revision is a ConflictError and keeps the entity', async function () {
        const ns = uniqueName('stale');
        const v1 = await store.put('trigger', sampleTrigger({ namespace: ns, name: 't' }));
        const v2 = await store.put('trigger', sampleTrigger({ namespace: ns, name: 't', version: '0.0.2' }), v1._rev);
        await expectReject(store.delete(ns, 't', v1._rev), ConflictError);
        expect((await store.get('trigger', ns, 't'))._rev).to.equal(v2._rev);
      });

      it('updating an entity that was deleted meanwhile is a ConflictError', async function () {
        const ns = uniqueName('gone');
        const v1 = await store.put('rule', sampleRule({ namespace: ns, name: 'r' }));
        await store.delete(ns, 'r', v1._rev);
        await expectReject(store.put('rule', sampleRule({ namespace: ns, name: 'r', version: '0.0.2' }), v1._rev), ConflictError);
        await expectReject(store.get('rule', ns, 'r'), NotFoundError);
      });

      it('get with the wrong kind is a ConflictError with the conformance message', async function () {
        const ns = uniqueName('kind');
        await store.put('action', sampleAction({ namespace: ns, name: 'thing' }));
        for (const kind of ['trigger', 'rule', 'package'] as const) {
          await expectReject(store.get(kind, ns, 'thing'), ConflictError, Messages.conformance);
        }
        expect((await store.find(ns, 'thing'))?.entityType).to.equal('action');
      });

      it('creating a trigger under the name of an existing action is a ConflictError and leaves the action', async function () {
        const ns = uniqueName('kind');
        const action = await store.put('action', sampleAction({ namespace: ns, name: 'shared' }));
        await expectReject(store.put('trigger', sampleTrigger({ namespace: ns, name: 'shared' })), ConflictError, Messages.conformance);
        const got = await store.get('action', ns, 'shared');
        expect(got._rev).to.equal(action._rev);
        expect(got.exec.code).to.equal(action.exec.code);
        await expectReject(store.get('trigger', ns, 'shared'), ConflictError, Messages.conformance);
      });

      it('an action and a package of the same name in different places do not collide', async function () {
        const ns = uniqueName('place');
        await store.put('package', samplePackage({ namespace: ns, name: 'p' }));
        await store.put('action', sampleAction({ namespace: `${ns}/p`, name: 'p' }));
        await store.put('action', sampleAction({ namespace: uniqueName('place'), name: 'p' }));
        expect((await store.get('package', ns, 'p')).entityType).to.equal('package');
        expect((await store.get('action', `${ns}/p`, 'p')).namespace).to.equal(`${ns}/p`);
      });
    });

    // ------------------------------------------------------------------------------- listing
    describe('listing and counting (views)', function () {
      let ns: string;
      /** action names, newest first by `updated` */
      let newestFirst: string[];

      before(async function () {
        ns = uniqueName('list');
        const offsets: Array<[string, number]> = [['a0', 3], ['a1', 1], ['a2', 4], ['a3', 0], ['a4', 2]];
        for (const [n, off] of offsets) {
          await store.put('action', sampleAction({ namespace: ns, name: n, updated: T0 + off * 1000, code: `// ${n}\nfunction main() { return {}; }` }));
        }
        await store.put('package', samplePackage({ namespace: ns, name: 'pkg', updated: T0 + 10 }));
        await store.put('action', sampleAction({ namespace: `${ns}/pkg`, name: 'p1', updated: T0 + 5000 }));
        await store.put('trigger', sampleTrigger({ namespace: ns, name: 'trig', updated: T0 + 20 }));
        await store.put('rule', sampleRule({ namespace: ns, name: 'rule', updated: T0 + 30, trigger: 'trig', action: 'a0' }));
        // other namespaces: one whose name starts with ours, one with a package of the same name
        await store.put('action', sampleAction({ namespace: `${ns}x`, name: 'a9', updated: T0 + 9000 }));
        await store.put('action', sampleAction({ namespace: `x${ns}`, name: 'a8', updated: T0 + 8000 }));
        const other = uniqueName('list');
        await store.put('package', samplePackage({ namespace: other, name: 'pkg', updated: T0 }));
        await store.put('action', sampleAction({ namespace: `${other}/pkg`, name: 'p9', updated: T0 + 7000 }));
        newestFirst = ['p1', 'a2', 'a0', 'a4', 'a1', 'a3'];
      });

      it('lists a namespace newest first by updated, packaged actions included, other namespaces not', async function () {
        const rows = await store.list('action', { namespace: ns }, ALL);
        expect(names(rows)).to.deep.equal(newestFirst);
        expect(rows.map((r) => r.namespace)).to.deep.equal([`${ns}/pkg`, ns, ns, ns, ns, ns]);
        expect(rows.map((r) => r.updated)).to.deep.equal([T0 + 5000, T0 + 4000, T0 + 3000, T0 + 2000, T0 + 1000, T0]);
      });

      it('pages with limit and skip', async function () {
        expect(names(await store.list('action', { namespace: ns }, { limit: 2, skip: 0 }))).to.deep.equal(newestFirst.slice(0, 2));
        expect(names(await store.list('action', { namespace: ns }, { limit: 2, skip: 1 }))).to.deep.equal(newestFirst.slice(1, 3));
        expect(names(await store.list('action', { namespace: ns }, { limit: 30, skip: 4 }))).to.deep.equal(newestFirst.slice(4));
        expect(await store.list('action', { namespace: ns }, { limit: 30, skip: 6 })).to.deep.equal([]);
      });

      it('counts a namespace and a package', async function () {
        expect(await store.count('action', { namespace: ns })).to.equal(6);
        expect(await store.count('action', { namespace: ns, pkg: 'pkg' })).to.equal(1);
        expect(await store.count('trigger', { namespace: ns })).to.equal(1);
        expect(await store.count('rule', { namespace: ns })).to.equal(1);
        expect(await store.count('package', { namespace: ns })).to.equal(1);
        expect(await store.count('action', { namespace: uniqueName('empty') })).to.equal(0);
        expect(await store.count('action', { namespace: ns, pkg: 'nopkg' })).to.equal(0);
      });

      it("lists one package's contents alone with scope {namespace, pkg}", async function () {
        const rows = await store.list('action', { namespace: ns, pkg: 'pkg' }, ALL);
        expect(names(rows)).to.deep.equal(['p1']);
        expect(rows[0]!.namespace).to.equal(`${ns}/pkg`);
        expect(await store.list('action', { namespace: ns, pkg: 'nopkg' }, ALL)).to.deep.equal([]);
      });

      it('lists each kind separately', async function () {
        expect(names(await store.list('trigger', { namespace: ns }, ALL))).to.deep.equal(['trig']);
        expect(names(await store.list('package', { namespace: ns }, ALL))).to.deep.equal(['pkg']);
        const rules = await store.list('rule', { namespace: ns }, ALL);
        expect(names(rules)).to.deep.equal(['rule']);
        expect(rules[0]).to.include({ status: 'active' });
        expect(rules[0]).to.deep.include({ trigger: { path: ns, name: 'trig' }, action: { path: ns, name: 'a0' } });
        expect(await store.list('action', { namespace: uniqueName('empty') }, ALL)).to.deep.equal([]);
      });

      it('listings carry the OpenWhisk summary: no code, no parameters, no store bookkeeping', async function () {
        const rows = (await store.list('action', { namespace: ns }, ALL)) as Array<Stored<Action>>;
        expect(rows).to.have.length(6);
        for (const r of rows) {
          const full = await store.get('action', r.namespace, r.name);
          expect(r, r.name).to.deep.equal(summary(full));
          expect(r.exec, r.name).not.to.have.property('code');
          expect(r, r.name).not.to.have.property('parameters');
        }
        for (const kind of ['trigger', 'rule', 'package'] as const) {
          const listed = await store.list(kind, { namespace: ns }, ALL);
          expect(listed, kind).to.have.length(1);
          expect(listed[0], kind).to.deep.equal(summary(await store.get(kind, ns, listed[0]!.name)));
        }
      });

      it('an update moves the entity to the top without listing it twice; a delete removes it', async function () {
        const local = uniqueName('list');
        for (const [n, off] of [['x', 0], ['y', 1], ['z', 2]] as const) {
          await store.put('trigger', sampleTrigger({ namespace: local, name: n, updated: T0 + off }));
        }
        const x = await store.get('trigger', local, 'x');
        const x2 = await store.put('trigger', { ...sampleTrigger({ namespace: local, name: 'x', updated: T0 + 100 }), version: '0.0.2' }, x._rev);
        const rows = await store.list('trigger', { namespace: local }, ALL);
        expect(names(rows)).to.deep.equal(['x', 'z', 'y']);
        expect(rows[0]!.version).to.equal('0.0.2');
        expect(await store.count('trigger', { namespace: local })).to.equal(3);

        await store.delete(local, 'x', x2._rev);
        expect(names(await store.list('trigger', { namespace: local }, ALL))).to.deep.equal(['z', 'y']);
        expect(await store.count('trigger', { namespace: local })).to.equal(2);
      });
    });

    // ------------------------------------------------------------------------------- attachments
    describe('action code kept as an attachment', function () {
      const size = SIZES.inlineCode + 64 * 1024;

      it('code larger than SIZES.inlineCode round-trips exactly; {code:false} leaves it out', async function () {
        const ns = uniqueName('big');
        const code = bigCode(size, 'one');
        expect(Buffer.byteLength(code)).to.be.greaterThan(SIZES.inlineCode);
        const action = sampleAction({ namespace: ns, name: 'big', code });

        const created = await store.put('action', action);
        expect(digest(created.exec.code)).to.equal(digest(code));
        expect(created.exec).to.have.keys(['kind', 'code', 'binary']);

        const got = await store.get('action', ns, 'big');
        expect(digest(got.exec.code)).to.equal(digest(code));
        const { exec: _e1, ...restGot } = got;
        const { exec: _e2, ...restAction } = action;
        expect(restGot).to.deep.equal({ ...restAction, entityType: 'action', _rev: created._rev });
        expect(got.exec).to.deep.equal({ ...action.exec, code: got.exec.code });

        const light = await store.get('action', ns, 'big', { code: false });
        expect(light.exec).to.deep.equal({ kind: 'nodejs:20', binary: false });
        expect(light._rev).to.equal(created._rev);
        expect(light.parameters).to.deep.equal(action.parameters);

        const found = (await store.find(ns, 'big', { code: false })) as Stored<Action>;
        expect(found.exec).to.deep.equal({ kind: 'nodejs:20', binary: false });
        expect(digest(((await store.find(ns, 'big')) as Stored<Action>).exec.code)).to.equal(digest(code));

        const listed = (await store.list('action', { namespace: ns }, ALL)) as Array<Stored<Action>>;
        expect(listed.map((r) => r.exec)).to.deep.equal([{ kind: 'nodejs:20', binary: false }]);
      });

      it('updating big code to small code and back to (other) big code keeps the latest', async function () {
        const ns = uniqueName('big');
        const big1 = bigCode(size, 'first');
        const big2 = bigCode(size + 1000, 'second');
        const small = 'function main() { return { small: true }; }';

        const v1 = await store.put('action', sampleAction({ namespace: ns, name: 'a', code: big1 }));
        const v2 = await store.put('action', sampleAction({ namespace: ns, name: 'a', code: small, version: '0.0.2' }), v1._rev);
        expect(v2.exec.code).to.equal(small);
        const got2 = await store.get('action', ns, 'a');
        expect(got2.exec.code).to.equal(small);
        expect(got2.version).to.equal('0.0.2');
        expect((await store.get('action', ns, 'a', { code: false })).exec.kind).to.equal('nodejs:20');

        const v3 = await store.put('action', sampleAction({ namespace: ns, name: 'a', code: big2, version: '0.0.3' }), got2._rev);
        expect(digest(v3.exec.code)).to.equal(digest(big2));
        const got3 = await store.get('action', ns, 'a');
        expect(digest(got3.exec.code)).to.equal(digest(big2));
        expect(got3.version).to.equal('0.0.3');

        // small to big to big (same size, different content)
        const big3 = bigCode(size + 1000, 'third');
        await store.put('action', sampleAction({ namespace: ns, name: 'a', code: big3, version: '0.0.4' }), got3._rev);
        expect(digest((await store.get('action', ns, 'a')).exec.code)).to.equal(digest(big3));
      });

      it('an action with big code can be deleted and created again', async function () {
        const ns = uniqueName('big');
        const v1 = await store.put('action', sampleAction({ namespace: ns, name: 'a', code: bigCode(size, 'del') }));
        await store.delete(ns, 'a', v1._rev);
        await expectReject(store.get('action', ns, 'a'), NotFoundError);
        const code = bigCode(size, 'again');
        await store.put('action', sampleAction({ namespace: ns, name: 'a', code }));
        expect(digest((await store.get('action', ns, 'a')).exec.code)).to.equal(digest(code));
      });
    });

    // ------------------------------------------------------------------------------- subjects
    describe('subjects', function () {
      it('put, get, look up by uuid and namespace, list', async function () {
        const s = sampleSubject({ namespaces: [uniqueName('ns'), uniqueName('ns')] });
        await store.putSubject(s);
        const got = await store.getSubject(s.subject);
        expect(got?._rev).to.be.a('string').with.lengthOf.above(0);
        expect(got).to.deep.equal({ ...s, _rev: got!._rev });

        for (const n of s.namespaces) {
          expect(await store.subjectByUuid(n.uuid)).to.deep.equal({ subject: s, namespace: n.name });
          expect(await store.subjectByNamespace(n.name)).to.deep.equal(s);
        }
        const listed = await store.listSubjects();
        expect(listed.filter((x) => x.subject === s.subject)).to.deep.equal([s]);

        expect(await store.getSubject(uniqueName('nobody'))).to.equal(undefined);
        expect(await store.subjectByUuid('00000000-0000-0000-0000-000000000000')).to.equal(undefined);
        expect(await store.subjectByNamespace(uniqueName('nowhere'))).to.equal(undefined);
      });

      it('update with the current rev replaces the subject; namespaces removed are free, added ones found', async function () {
        const [first, second, third] = [uniqueName('ns'), uniqueName('ns'), uniqueName('ns')];
        const s = sampleSubject({ namespaces: [first, second] });
        await store.putSubject(s);
        const v1 = await store.getSubject(s.subject);
        const added = sampleSubject({ namespaces: [third] }).namespaces[0]!;
        const next = { ...s, blocked: true, namespaces: [s.namespaces[0]!, { ...added, limits: { invocationsPerMinute: 5 } }] };
        await store.putSubject(next, v1!._rev);

        const v2 = await store.getSubject(s.subject);
        expect(v2).to.deep.equal({ ...next, _rev: v2!._rev });
        expect(v2!._rev).not.to.equal(v1!._rev);
        expect(await store.subjectByNamespace(second)).to.equal(undefined);
        expect(await store.subjectByUuid(s.namespaces[1]!.uuid)).to.equal(undefined);
        expect(await store.subjectByUuid(added.uuid)).to.deep.equal({ subject: next, namespace: third });

        await expectReject(store.putSubject({ ...s }, v1!._rev), ConflictError);
        expect((await store.getSubject(s.subject))?.blocked).to.equal(true);
      });

      it('creating an existing subject is a ConflictError', async function () {
        const s = sampleSubject();
        await store.putSubject(s);
        await expectReject(store.putSubject(sampleSubject({ subject: s.subject })), ConflictError);
        expect(await store.getSubject(s.subject)).to.deep.include({ namespaces: s.namespaces });
      });

      it('a uuid or namespace owned by another subject is a ConflictError', async function () {
        const owner = sampleSubject();
        await store.putSubject(owner);

        const sameUuid = sampleSubject();
        sameUuid.namespaces[0]!.uuid = owner.namespaces[0]!.uuid;
        await expectReject(store.putSubject(sameUuid), ConflictError);
        expect(await store.getSubject(sameUuid.subject)).to.equal(undefined);

        const sameNs = sampleSubject({ namespaces: [uniqueName('ns'), owner.namespaces[0]!.name] });
        await expectReject(store.putSubject(sameNs), ConflictError);
        expect(await store.getSubject(sameNs.subject)).to.equal(undefined);

        // also on update of an existing subject
        const other = sampleSubject();
        await store.putSubject(other);
        const rev = (await store.getSubject(other.subject))!._rev;
        await expectReject(store.putSubject({ ...other, namespaces: [...other.namespaces, owner.namespaces[0]!] }, rev), ConflictError);
        expect(await store.subjectByNamespace(owner.namespaces[0]!.name)).to.deep.equal(owner);
      });

      it('delete removes the subject and frees its namespaces; deleting a missing one is a NotFoundError', async function () {
        const s = sampleSubject();
        await store.putSubject(s);
        await store.deleteSubject(s.subject);
        expect(await store.getSubject(s.subject)).to.equal(undefined);
        expect(await store.subjectByUuid(s.namespaces[0]!.uuid)).to.equal(undefined);
        expect(await store.subjectByNamespace(s.namespaces[0]!.name)).to.equal(undefined);
        expect((await store.listSubjects()).map((x) => x.subject)).not.to.include(s.subject);

        const heir = sampleSubject({ namespaces: [s.namespaces[0]!.name] });
        await store.putSubject(heir);
        expect(await store.subjectByNamespace(s.namespaces[0]!.name)).to.deep.equal(heir);
        // and the deleted subject's name can be created again
        await store.putSubject(sampleSubject({ subject: s.subject }));

        await expectReject(store.deleteSubject(uniqueName('nobody')), NotFoundError);
      });

      it('secret() makes the value once and returns it every time; it is not a subject', async function () {
        const name = uniqueName('jwt');
        let made = 0;
        const make = (): string => `secret-${++made}-${name}`;
        const first = await store.secret(name, make);
        expect(first).to.equal(`secret-1-${name}`);
        expect(await store.secret(name, make)).to.equal(first);
        expect(made).to.equal(1);

        for (const s of await store.listSubjects()) {
          expect(s.subject).to.be.a('string');
          expect(s.namespaces).to.be.an('array');
          expect(JSON.stringify(s)).not.to.include(first);
        }

        // two first-time callers at once agree on one value
        const racing = uniqueName('jwt');
        const [a, b] = await Promise.all([store.secret(racing, () => 'from-a'), store.secret(racing, () => 'from-b')]);
        expect(a).to.equal(b);
        expect(await store.secret(racing, () => 'from-c')).to.equal(a);
      });
    });

    // ------------------------------------------------------------------------------- activations
    describe('activation records', function () {
      let ns: string;
      let other: string;
      /** all records of `ns`, newest first */
      let records: ActivationRecord[];
      const nameOf = (i: number): string => ['alpha', 'beta', 'pkg/gamma'][i % 3]!;

      before(async function () {
        ns = uniqueName('act');
        other = uniqueName('act');
        const made = Array.from({ length: 50 }, (_, i) =>
          sampleActivation({ namespace: ns, name: nameOf(i), start: T0 + i * 1000, statusCode: (i % 4) as 0 | 1 | 2 | 3, logs: [`2023-11-14T22:13:20.000Z stdout: record ${i}`] }),
        );
        // written in an order other than by start, in one batch
        const shuffled = made.filter((_, i) => i % 2 === 1).concat(made.filter((_, i) => i % 2 === 0).reverse());
        await store.putActivations(shuffled);
        await store.putActivations([0, 1, 2].map((i) => sampleActivation({ namespace: other, name: 'alpha', start: T0 + 500 + i * 1000 })));
        records = [...made].reverse();
      });

      it('getActivation returns the full record', async function () {
        for (const r of [records[0]!, records[17]!, records[49]!]) {
          expect(await store.getActivation(ns, r.activationId)).to.deep.equal(r);
        }
      });

      it('getActivation of a missing id, or of another namespace, is a NotFoundError', async function () {
        await expectReject(store.getActivation(ns, 'f'.repeat(32)), NotFoundError);
        await expectReject(store.getActivation(other, records[0]!.activationId), NotFoundError);
      });

      it('lists a namespace newest first by start, with limit and skip, without other namespaces', async function () {
        expect(ids(await store.listActivations(ns, { skip: 0, limit: 200 }))).to.deep.equal(ids(records));
        expect(ids(await store.listActivations(ns, { skip: 0, limit: 10 }))).to.deep.equal(ids(records.slice(0, 10)));
        expect(ids(await store.listActivations(ns, { skip: 45, limit: 10 }))).to.deep.equal(ids(records.slice(45)));
        expect(await store.listActivations(ns, { skip: 50, limit: 10 })).to.deep.equal([]);
        expect(await store.listActivations(uniqueName('none'), { skip: 0, limit: 10 })).to.deep.equal([]);
      });

      it('listing entries name the activation (id, name, namespace, start, end, status code)', async function () {
        const rows = await store.listActivations(ns, { skip: 0, limit: 3 });
        expect(rows.map((r) => [r.activationId, r.name, r.namespace, r.start, r.end, (r as unknown as { statusCode: number }).statusCode])).to.deep.equal(
          records.slice(0, 3).map((r) => [r.activationId, r.name, r.namespace, r.start, r.end, r.response.statusCode]),
        );
        // brief: the logs and the result stay out of a listing unless docs=true
        for (const r of rows) expect(r).not.to.have.any.keys('logs', 'response');
      });

      it('filters by name, including packaged names', async function () {
        const alpha = records.filter((r) => r.name === 'alpha');
        expect(alpha).to.have.length(17);
        expect(ids(await store.listActivations(ns, { name: 'alpha', skip: 0, limit: 200 }))).to.deep.equal(ids(alpha));
        expect(ids(await store.listActivations(ns, { name: 'alpha', skip: 2, limit: 3 }))).to.deep.equal(ids(alpha.slice(2, 5)));
        const gamma = records.filter((r) => r.name === 'pkg/gamma');
        expect(ids(await store.listActivations(ns, { name: 'pkg/gamma', skip: 0, limit: 200 }))).to.deep.equal(ids(gamma));
        expect(await store.listActivations(ns, { name: 'gamma', skip: 0, limit: 200 })).to.deep.equal([]);
        expect(await store.listActivations(ns, { name: 'nothing', skip: 0, limit: 200 })).to.deep.equal([]);
      });

      it('filters by since and upto', async function () {
        const since = T0 + 10_500;
        const upto = T0 + 19_500;
        const inRange = records.filter((r) => r.start >= since && r.start <= upto);
        expect(inRange).to.have.length(9);
        expect(ids(await store.listActivations(ns, { since, upto, skip: 0, limit: 200 }))).to.deep.equal(ids(inRange));
        expect(ids(await store.listActivations(ns, { since: T0 + 44_500, skip: 0, limit: 200 }))).to.deep.equal(ids(records.slice(0, 5)));
        expect(ids(await store.listActivations(ns, { upto: T0 + 2_500, skip: 0, limit: 200 }))).to.deep.equal(ids(records.slice(47)));
        const alphaInRange = inRange.filter((r) => r.name === 'alpha');
        expect(alphaInRange).to.have.length(3);
        expect(ids(await store.listActivations(ns, { name: 'alpha', since, upto, skip: 0, limit: 200 }))).to.deep.equal(ids(alphaInRange));
        expect(ids(await store.listActivations(ns, { since, upto, skip: 1, limit: 2 }))).to.deep.equal(ids(inRange.slice(1, 3)));
      });

      it('docs=true returns the full records with logs and response', async function () {
        const rows = await store.listActivations(ns, { skip: 0, limit: 5, docs: true });
        expect(rows).to.deep.equal(records.slice(0, 5));
        expect(rows[0]!.logs).to.deep.equal(['2023-11-14T22:13:20.000Z stdout: record 49']);
        expect(rows[0]!.response).to.deep.equal(records[0]!.response);
        const named = await store.listActivations(ns, { name: 'beta', skip: 0, limit: 2, docs: true });
        expect(named).to.deep.equal(records.filter((r) => r.name === 'beta').slice(0, 2));
      });

      it('counts, with the same filters', async function () {
        expect(await store.countActivations(ns, {})).to.equal(50);
        expect(await store.countActivations(ns, { name: 'beta' })).to.equal(17);
        expect(await store.countActivations(ns, { name: 'pkg/gamma' })).to.equal(16);
        expect(await store.countActivations(ns, { since: T0 + 10_500, upto: T0 + 19_500 })).to.equal(9);
        expect(await store.countActivations(ns, { name: 'alpha', since: T0 + 10_500, upto: T0 + 19_500 })).to.equal(3);
        expect(await store.countActivations(other, {})).to.equal(3);
        expect(await store.countActivations(uniqueName('none'), {})).to.equal(0);
      });

      it('deleteActivations removes every record of one namespace, and only those', async function () {
        const gone = uniqueName('act');
        await store.putActivations([0, 1, 2, 3].map((i) => sampleActivation({ namespace: gone, name: i % 2 ? 'pkg/gamma' : 'alpha', start: T0 + i * 1000 })));
        expect(await store.countActivations(gone, {})).to.equal(4);
        expect(await store.deleteActivations(gone)).to.equal(4);
        expect(await store.countActivations(gone, {})).to.equal(0);
        expect(await store.countActivations(gone, { name: 'pkg/gamma' })).to.equal(0);
        expect(await store.listActivations(gone, { skip: 0, limit: 10 })).to.deep.equal([]);
        expect(await store.deleteActivations(gone)).to.equal(0);
        // the other namespaces keep theirs
        expect(await store.countActivations(ns, {})).to.equal(50);
        expect(await store.countActivations(other, {})).to.equal(3);
      });

      it('writing a record again (redelivery) is not an error and does not duplicate it', async function () {
        expect(await store.putActivations(records.slice(0, 5))).to.deep.equal([]);
        expect(await store.putActivations([])).to.deep.equal([]);
        expect(await store.countActivations(ns, {})).to.equal(50);
        expect(await store.getActivation(ns, records[0]!.activationId)).to.deep.equal(records[0]);
      });

      it('a record the store refuses is named with its reason, and the rest of its batch is stored', async function () {
        const batchNs = uniqueName('refused');
        const batch = [0, 1, 2].map((i) => sampleActivation({ namespace: batchNs, name: 'alpha', start: T0 + i }));
        // a top-level member starting with _ is refused by CouchDB and PouchDB alike
        const bad = { ...sampleActivation({ namespace: batchNs, name: 'alpha', start: T0 + 3 }), _bogus: 1 } as ActivationRecord;
        // and one that cannot be serialized at all
        const cyclic = sampleActivation({ namespace: batchNs, name: 'alpha', start: T0 + 4 });
        (cyclic.response as { result: Record<string, unknown> }).result = { me: cyclic };
        const refused = await store.putActivations([batch[0]!, bad, batch[1]!, cyclic, batch[2]!]);
        expect(refused.map((r) => r.record)).to.deep.equal([bad, cyclic]);
        expect(refused[0]!.reason).to.match(/^doc_validation/);
        expect(refused[1]!.reason).to.match(/^the record cannot be serialized: Converting circular structure to JSON/);
        expect(await store.countActivations(batchNs, {})).to.equal(3);
        for (const r of batch) expect(await store.getActivation(batchNs, r.activationId)).to.deep.equal(r);
      });
    });

    // ------------------------------------------------------------------------------- feeds
    describe('trigger feeds', function () {
      const feed = (namespace: string, name: string, provider = 'alarms'): FeedDoc => ({
        namespace,
        name,
        provider,
        feed: 'alarms/alarm',
        config: { cron: '* * * * *', payload: { n: 1 } },
        active: true,
        dateChanged: T0,
        created: T0,
      });

      it('put, get, replace with rev, delete; a missing feed is undefined', async function () {
        const ns = uniqueName('feeds');
        expect(await store.getFeed(ns, 't')).to.equal(undefined);
        const created = await store.putFeed(feed(ns, 't'));
        expect(created).to.deep.equal({ ...feed(ns, 't'), _rev: created._rev });
        expect(await store.getFeed(ns, 't')).to.deep.equal(created);
        const paused = await store.putFeed({ ...created, active: false, reason: 'paused' }, created._rev);
        expect(paused._rev).to.not.equal(created._rev);
        expect(await store.getFeed(ns, 't')).to.deep.equal({ ...feed(ns, 't'), active: false, reason: 'paused', _rev: paused._rev });
        await store.deleteFeed(ns, 't', paused._rev);
        expect(await store.getFeed(ns, 't')).to.equal(undefined);
      });

      it('creating twice, replacing or deleting with a stale rev are ConflictErrors; deleting a missing feed is a NotFoundError', async function () {
        const ns = uniqueName('feeds');
        const first = await store.putFeed(feed(ns, 't'));
        await expectReject(store.putFeed(feed(ns, 't')), ConflictError);
        const second = await store.putFeed({ ...first, config: { cron: '0 * * * *' } }, first._rev);
        await expectReject(store.putFeed(first, first._rev), ConflictError);
        await expectReject(store.deleteFeed(ns, 't', first._rev), ConflictError);
        expect((await store.getFeed(ns, 't'))?.config).to.deep.equal({ cron: '0 * * * *' });
        await store.deleteFeed(ns, 't', second._rev);
        await expectReject(store.deleteFeed(ns, 'never', second._rev), NotFoundError);
      });

      it('lists the feeds of one provider, across namespaces', async function () {
        const a = uniqueName('feeds');
        const b = uniqueName('feeds');
        const provider = uniqueName('provider');
        await store.putFeed(feed(a, 'one', provider));
        await store.putFeed(feed(b, 'two', provider));
        await store.putFeed(feed(a, 'other', `${provider}x`));
        const listed = await store.listFeeds(provider);
        expect(listed.map((f) => `${f.namespace}/${f.name}`).sort()).to.deep.equal([`${a}/one`, `${b}/two`].sort());
        expect(listed.every((f) => typeof f._rev === 'string' && f.provider === provider)).to.equal(true);
        expect(await store.listFeeds(uniqueName('none'))).to.deep.equal([]);
      });

      it('a feed and an entity of the same trigger name do not collide', async function () {
        const ns = uniqueName('feeds');
        const trigger = await store.put('trigger', sampleTrigger({ namespace: ns, name: 't' }));
        await store.putFeed(feed(ns, 't'));
        expect(await store.get('trigger', ns, 't')).to.deep.equal(trigger);
        expect(await store.count('trigger', { namespace: ns })).to.equal(1);
      });
    });

    // ------------------------------------------------------------------------------- gateway APIs
    describe('gateway APIs', function () {
      const api = (namespace: string, basePath: string, title = basePath): ApiDoc => ({ namespace, basePath, swagger: { swagger: '2.0', info: { title, version: '1.0.0' }, basePath, paths: {} }, created: T0, updated: T0 });

      it('creates, reads, replaces and deletes an API by namespace and base path', async function () {
        const ns = uniqueName('apis');
        expect(await store.getApi(ns, '/shop')).to.equal(undefined);
        const first = await store.putApi(api(ns, '/shop'));
        expect(await store.getApi(ns, '/shop')).to.deep.equal(first);
        const second = await store.putApi({ ...first, swagger: { ...first.swagger, info: { title: 'Shop', version: '1.0.0' } } }, first._rev);
        expect((await store.getApi(ns, '/shop'))?.swagger.info).to.deep.equal({ title: 'Shop', version: '1.0.0' });
        await expectReject(store.putApi(api(ns, '/shop')), ConflictError);
        await expectReject(store.putApi(first, first._rev), ConflictError);
        await expectReject(store.deleteApi(ns, '/shop', first._rev), ConflictError);
        await store.deleteApi(ns, '/shop', second._rev);
        expect(await store.getApi(ns, '/shop')).to.equal(undefined);
        await expectReject(store.deleteApi(ns, '/shop', second._rev), NotFoundError);
      });

      it("lists a namespace's APIs and no other namespace's (not one whose name it begins)", async function () {
        const ns = uniqueName('apis');
        await store.putApi(api(ns, '/b'));
        await store.putApi(api(ns, '/a/deeper'));
        await store.putApi(api(`${ns}x`, '/c'));
        const listed = await store.listApis(ns);
        expect(listed.map((a) => a.basePath).sort()).to.deep.equal(['/a/deeper', '/b']);
        expect(listed.every((a) => a.namespace === ns && typeof a._rev === 'string')).to.equal(true);
        expect(await store.listApis(uniqueName('none'))).to.deep.equal([]);
      });
    });

    // ------------------------------------------------------------------------------- restart
    // a server this suite did not start (real CouchDB) cannot be restarted by it
    if (opts.restartable) describe('persistence across a restart', function () {
      it('reads back entities, attachment code, subjects, secrets and activations after a restart', async function () {
        if (!ctx?.restart) throw new Error('a restartable store under test must provide restart()');
        const ns = uniqueName('persist');
        const code = bigCode(SIZES.inlineCode + 4096, 'persist');
        const action = await store.put('action', sampleAction({ namespace: ns, name: 'small' }));
        const big = await store.put('action', sampleAction({ namespace: `${ns}/pkg`, name: 'big', code }));
        const trigger = sampleTrigger({ namespace: ns, name: 't' });
        const t1 = await store.put('trigger', trigger);
        const t2 = await store.put('trigger', { ...trigger, version: '0.0.2' }, t1._rev);
        const subject = sampleSubject({ namespaces: [ns] });
        await store.putSubject(subject);
        const secret = await store.secret(`persist-${ns}`, () => `value-${ns}`);
        const acts = [0, 1, 2].map((i) => sampleActivation({ namespace: ns, name: 'small', start: T0 + i }));
        await store.putActivations(acts);

        store = await ctx!.restart!();

        expect(await store.get('action', ns, 'small')).to.deep.equal(action);
        const gotBig = await store.get('action', `${ns}/pkg`, 'big');
        expect(digest(gotBig.exec.code)).to.equal(digest(code));
        expect(gotBig._rev).to.equal(big._rev);
        expect(await store.get('trigger', ns, 't')).to.deep.equal(t2);
        expect(names(await store.list('action', { namespace: ns }, ALL)).sort()).to.deep.equal(['big', 'small']);
        expect(await store.getSubject(subject.subject)).to.deep.include(subject);
        expect(await store.subjectByUuid(subject.namespaces[0]!.uuid)).to.deep.equal({ subject, namespace: ns });
        expect(await store.secret(`persist-${ns}`, () => 'a new value')).to.equal(secret);
        expect(await store.getActivation(ns, acts[1]!.activationId)).to.deep.equal(acts[1]);
        expect(ids(await store.listActivations(ns, { skip: 0, limit: 10 }))).to.deep.equal(ids([...acts].reverse()));

        // and the store keeps working: an update with a revision from before the restart
        const t3 = await store.put('trigger', { ...trigger, version: '0.0.3' }, t2._rev);
        expect((await store.get('trigger', ns, 't'))._rev).to.equal(t3._rev);
      });

      it('reads back trigger feeds after a restart', async function () {
        if (!ctx?.restart) throw new Error('a restartable store under test must provide restart()');
        const ns = uniqueName('persist');
        const provider = uniqueName('provider');
        const saved = await store.putFeed({ namespace: ns, name: 't', provider, feed: 'alarms/once', config: { date: T0 }, active: true, dateChanged: T0, created: T0 });
        store = await ctx.restart();
        expect(await store.getFeed(ns, 't')).to.deep.equal(saved);
        expect(await store.listFeeds(provider)).to.deep.equal([saved]);
      });
    });
  });
}
