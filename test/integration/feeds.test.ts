import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Kafka, logLevel } from 'kafkajs';
import openwhisk from 'openwhisk';
import { newKey } from '../../common/credentials.ts';
import { sleep } from '../support/api.ts';
import { swirl } from '../support/cli.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { startKafkaFixture, type KafkaFixture } from '../support/kafka-fixture.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { call, type Reply, startTestServer, type TestServer } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { expectConforms } from '../support/openapi.ts';

const factory = factoryNames()[0]!;

interface Record_ {
  activationId: string;
  start: number;
  response: { result: Record<string, unknown> };
}

/** API helpers for one server and key. */
function client(s: TestServer, auth: string) {
  const api = (path: string) => `${s.api}/namespaces/_${path}`;
  const h = {
    /** Invoke a /whisk.system feed action, blocking, as the CLI and the openwhisk client do. */
    feed: (feed: string, params: Record<string, unknown>) => call('POST', `${s.api}/namespaces/whisk.system/actions/${feed}?blocking=true`, { auth, body: params }),
    /** A trigger with its feed (CREATE must succeed) and a rule to an action that echoes its input. */
    async feedTrigger(name: string, feed: string, params: Record<string, unknown>): Promise<void> {
      const t = await call('PUT', api(`/triggers/${name}`), { auth, body: { annotations: [{ key: 'feed', value: `/whisk.system/${feed}` }] } });
      expect(t.status, JSON.stringify(t.body)).to.equal(200);
      const r = await h.feed(feed, { ...params, lifecycleEvent: 'CREATE', triggerName: `/_/${name}`, authKey: auth });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expectConforms('Activation', r.body);
      expect(r.body.response.result).to.deep.equal({ status: 'success' });
      const rule = await call('PUT', api(`/rules/${name}-rule`), { auth, body: { trigger: `/_/${name}`, action: '/_/echo' } });
      expect(rule.status, JSON.stringify(rule.body)).to.equal(200);
    },
    lifecycle: (feed: string, name: string, lifecycleEvent: string, params: Record<string, unknown> = {}) => h.feed(feed, { ...params, lifecycleEvent, triggerName: `/_/${name}` }),
    /** The trigger's activation records (one per fire), oldest first. */
    async fires(name: string): Promise<Record_[]> {
      const r = await call('GET', api(`/activations?name=${name}&docs=true&limit=200`), { auth });
      expect(r.status).to.equal(200);
      return (r.body as Record_[]).reverse();
    },
    async echo(): Promise<void> {
      const r = await call('PUT', api('/actions/echo?overwrite=true'), { auth, body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return p }' } } });
      expect(r.status).to.equal(200);
    },
  };
  return h;
}

/** Wait (bounded) until `fn` holds. */
async function until(what: string, fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A whole second at least `ms` from now, so every controller has armed the alarm before its first tick. */
const secondAfter = (ms: number) => Math.ceil((Date.now() + ms) / 1000) * 1000;

describe(`feeds: alarms and kafkaFeed (${factory} containers)`, function () {
  this.timeout(60_000);
  let s: TestStack;
  let h: ReturnType<typeof client>;

  before(async () => {
    s = await startTestStack(factory, { SWIRL_INVOKER_MEMORY_MB: '1024', SWIRL_LIMIT_FIRES_PER_MINUTE: '1000', SWIRL_LIMIT_INVOKES_PER_MINUTE: '1000' });
    h = client(s, s.guestKey);
    await h.echo();
  });
  after(() => s?.destroy());

  it('the feed actions are in /whisk.system, annotated feed: true', async () => {
    const pkg = await call('GET', `${s.api}/namespaces/whisk.system/packages/alarms`, { auth: s.guestKey });
    expect(pkg.status).to.equal(200);
    expect(pkg.body.feeds.map((f: { name: string }) => f.name).sort()).to.deep.equal(['alarm', 'interval', 'once']);
    const kafka = await call('GET', `${s.api}/namespaces/whisk.system/actions/messaging/kafkaFeed`, { auth: s.guestKey });
    expect(kafka.status).to.equal(200);
    expect(kafka.body.annotations).to.deep.include({ key: 'feed', value: true });
  });

  it("a per-second cron alarm fires its trigger's rule every second: the action runs with the payload; DELETE (openwhisk client) stops it", async () => {
    await h.feedTrigger('everySecond', 'alarms/alarm', { cron: '* * * * * *', trigger_payload: { from: 'alarm' } });
    const t0 = Date.now();
    await sleep(3_600);
    const fires = await h.fires('everySecond');
    expect(fires.length).to.be.within(2, 5);
    expect(fires[0]!.response.result).to.deep.equal({ from: 'alarm' });
    // about one second apart, never two in one tick (loose bounds: a busy machine delays fires)
    for (let i = 1; i < fires.length; i++) expect(fires[i]!.start - fires[i - 1]!.start).to.be.within(400, 1_600);
    expect(fires[0]!.start - t0).to.be.below(2_000);
    await until('the rule action activations', async () => {
      const r = await call('GET', `${s.api}/namespaces/_/activations?name=echo&docs=true`, { auth: s.guestKey });
      return r.body.filter((a: Record_) => a.response.result.from === 'alarm').length >= 3;
    });

    const ow = openwhisk({ apihost: s.url, api_key: s.guestKey, namespace: '_' });
    await ow.feeds.delete({ name: '/whisk.system/alarms/alarm', trigger: 'everySecond' });
    await sleep(300);
    const before = (await h.fires('everySecond')).length;
    await sleep(2_200);
    expect((await h.fires('everySecond')).length).to.equal(before);
    const read = await h.lifecycle('alarms/alarm', 'everySecond', 'READ');
    expect(read.status).to.equal(502);
    expect(read.body.response.result.error).to.equal("the trigger '/guest/everySecond' has no /whisk.system/alarms/alarm feed");
  });

  it('startDate and stopDate bound a cron alarm: exactly its ticks fire, then READ shows it disabled', async () => {
    const startDate = secondAfter(800);
    await h.feedTrigger('bounded', 'alarms/alarm', { cron: '* * * * * *', startDate: new Date(startDate).toISOString(), stopDate: startDate + 3_000 });
    await until('three fires', async () => (await h.fires('bounded')).length >= 3, startDate + 6_000 - Date.now());
    await sleep(1_200);
    const fires = await h.fires('bounded');
    expect(fires).to.have.length(3);
    expect(fires[0]!.start).to.be.at.least(startDate);
    const read = await h.lifecycle('alarms/alarm', 'bounded', 'READ');
    expect(read.status).to.equal(200);
    expect(read.body.response.result.config).to.deep.include({ name: 'bounded', namespace: 'guest', cron: '* * * * * *', startDate: new Date(startDate).toISOString() });
    expect(read.body.response.result.status).to.deep.include({ active: false, reason: 'Automatically disabled after reaching the stopDate' });
  });

  it('READ, PAUSE and UNPAUSE: a paused alarm does not fire; UPDATE changes its payload', async () => {
    await h.feedTrigger('pausable', 'alarms/alarm', { cron: '* * * * * *' });
    const read = await h.lifecycle('alarms/alarm', 'pausable', 'READ');
    expect(read.body.response.result).to.deep.include({ config: { name: 'pausable', namespace: 'guest', cron: '* * * * * *', payload: {} } });
    expect(read.body.response.result.status.active).to.equal(true);
    await until('a first fire', async () => (await h.fires('pausable')).length > 0, 3_000);

    expect((await h.lifecycle('alarms/alarm', 'pausable', 'PAUSE')).status).to.equal(200);
    await sleep(300);
    const paused = (await h.fires('pausable')).length;
    await sleep(2_100);
    expect((await h.fires('pausable')).length).to.equal(paused);
    expect((await h.lifecycle('alarms/alarm', 'pausable', 'READ')).body.response.result.status.active).to.equal(false);

    const updated = await h.lifecycle('alarms/alarm', 'pausable', 'UPDATE', { trigger_payload: { v: 2 } });
    expect(updated.status, JSON.stringify(updated.body)).to.equal(200);
    expect((await h.lifecycle('alarms/alarm', 'pausable', 'UNPAUSE')).status).to.equal(200);
    await until('fires after UNPAUSE', async () => (await h.fires('pausable')).some((f) => f.response.result.v === 2), 3_000);
    await h.lifecycle('alarms/alarm', 'pausable', 'DELETE');
  });

  it('once fires one time and is then disabled; with deleteAfterFire=true the trigger goes too', async () => {
    const date = Date.now() + 1_200;
    await h.feedTrigger('onceOnly', 'alarms/once', { date: new Date(date).toISOString() });
    await h.feedTrigger('onceGone', 'alarms/once', { date, deleteAfterFire: 'true' });
    await until('the fires', async () => (await h.fires('onceOnly')).length > 0 && (await h.fires('onceGone')).length > 0, date + 4_000 - Date.now());
    await sleep(1_200);
    const fires = await h.fires('onceOnly');
    expect(fires).to.have.length(1);
    expect(fires[0]!.start).to.be.at.least(date);
    expect((await h.lifecycle('alarms/once', 'onceOnly', 'READ')).body.response.result.status).to.deep.include({ active: false, reason: 'Automatically disabled after firing once' });
    expect(await h.fires('onceGone')).to.have.length(1);
    expect((await call('GET', `${s.api}/namespaces/_/triggers/onceGone`, { auth: s.guestKey })).status).to.equal(404);
  });

  it('interval fires at its startDate, then every `minutes`', async () => {
    const startDate = Date.now() + 1_000;
    await h.feedTrigger('interval', 'alarms/interval', { minutes: 1, startDate });
    await until('the first fire', async () => (await h.fires('interval')).length > 0, startDate + 3_000 - Date.now());
    await sleep(1_000);
    expect(await h.fires('interval')).to.have.length(1);
    const read = await h.lifecycle('alarms/interval', 'interval', 'READ');
    expect(read.body.response.result.config).to.deep.include({ minutes: 1, startDate: new Date(startDate).toISOString() });
    await h.lifecycle('alarms/interval', 'interval', 'DELETE');
  });

  it('the CLI: trigger create --feed calls CREATE (a bad cron fails and leaves no trigger); trigger delete calls DELETE', async () => {
    const work = mkdtempSync(join(tmpdir(), 'swirl-feeds-cli-'));
    const run = (...args: string[]) => swirl(args, { WSK_CONFIG_FILE: join(work, 'wskprops') }, work);
    try {
      expect((await run('property', 'set', '--apihost', s.url, '--auth', s.guestKey)).code).to.equal(0);
      const bad = await run('trigger', 'create', 'cliBad', '--feed', '/whisk.system/alarms/alarm', '-p', 'cron', 'nope');
      expect(bad.code).to.not.equal(0);
      // the feed action's own message, from the failed activation's record
      expect(bad.stderr).to.contain("Unable to create trigger 'cliBad'");
      expect(bad.stderr).to.match(/cron pattern 'nope' is not valid/);
      expect((await call('GET', `${s.api}/namespaces/_/triggers/cliBad`, { auth: s.guestKey })).status).to.equal(404);

      const created = await run('trigger', 'create', 'cliAlarm', '--feed', '/whisk.system/alarms/alarm', '-p', 'cron', '* * * * * *', '-p', 'trigger_payload', '{"via":"cli"}');
      expect(created.code, created.stderr).to.equal(0);
      expect(created.stdout).to.match(/invoked \/whisk.system\/alarms\/alarm with id [0-9a-f]{32}/);
      expect((await run('rule', 'create', 'cliRule', 'cliAlarm', 'echo')).code).to.equal(0);
      await until('a fire', async () => (await h.fires('cliAlarm')).some((f) => f.response.result.via === 'cli'), 3_000);
      const deleted = await run('trigger', 'delete', 'cliAlarm');
      expect(deleted.code, deleted.stderr).to.equal(0);
      await sleep(300);
      const before = (await h.fires('cliAlarm')).length;
      await sleep(2_000);
      expect((await h.fires('cliAlarm')).length).to.equal(before);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('bad parameters are application errors: 502 with a clear message in the result', async () => {
    const t = await call('PUT', `${s.api}/namespaces/_/triggers/badFeed`, { auth: s.guestKey, body: {} });
    expect(t.status).to.equal(200);
    const expectFeedError = (r: Reply<{ response: { result: { error: string } } }>, message: string | RegExp) => {
      expect(r.status, JSON.stringify(r.body)).to.equal(502);
      expect(r.body.response).to.deep.include({ status: 'application error', statusCode: 1, success: false });
      if (typeof message === 'string') expect(r.body.response.result.error).to.equal(message);
      else expect(r.body.response.result.error).to.match(message);
    };
    expectFeedError(await h.lifecycle('alarms/alarm', 'badFeed', 'CREATE', { cron: 'every tuesday' }), "cron pattern 'every tuesday' is not valid");
    expectFeedError(await h.lifecycle('alarms/alarm', 'badFeed', 'CREATE', {}), 'alarms trigger feed is missing the cron parameter');
    expectFeedError(await h.lifecycle('alarms/alarm', 'badFeed', 'CREATE', { cron: '* * * * *', startDate: '2001-01-01' }), "startDate parameter '2001-01-01' must be in the future");
    expectFeedError(await h.lifecycle('alarms/interval', 'badFeed', 'CREATE', { minutes: 'often' }), 'the minutes parameter must be an integer');
    expectFeedError(await h.lifecycle('alarms/once', 'badFeed', 'CREATE', { date: 'tomorrow' }), "date parameter 'tomorrow' is not a valid Date");
    expectFeedError(await h.lifecycle('alarms/alarm', 'nope', 'CREATE', { cron: '* * * * *' }), "the trigger '/guest/nope' does not exist");
    expectFeedError(await h.feed('alarms/alarm', { lifecycleEvent: 'CREATE', triggerName: '/someone/t', cron: '* * * * *' }), /not authorized to access 'someone\/t'/);
    expectFeedError(await h.feed('alarms/alarm', { cron: '* * * * *' }), /needs a lifecycleEvent parameter/);
    expectFeedError(await h.lifecycle('alarms/alarm', 'badFeed', 'EXPLODE'), /unsupported lifecycleEvent 'EXPLODE'/);
    expectFeedError(await h.lifecycle('messaging/kafkaFeed', 'badFeed', 'CREATE', { topic: 't' }), /You must supply a 'brokers' parameter/);
    // the record is stored like any activation's
    const r = await h.lifecycle('alarms/alarm', 'badFeed', 'CREATE', { cron: 'x' });
    await until('the record', async () => (await call('GET', `${s.api}/namespaces/_/activations/${r.body.activationId}`, { auth: s.guestKey })).status === 200);
  });

  describe('kafkaFeed against the test broker', function () {
    let kafka: KafkaFixture;
    before(async () => (kafka = await startKafkaFixture()));
    after(async () => kafka?.cleanup());

    it('fires with batches of the messages produced after CREATE (JSON values), and stops after DELETE', async () => {
      const topic = `feed-${Date.now()}`;
      const k = new Kafka({ brokers: kafka.brokers, clientId: 'feeds-test', logLevel: logLevel.NOTHING });
      const admin = k.admin();
      const producer = k.producer();
      await admin.connect();
      await producer.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
        await producer.send({ topic, messages: [{ value: JSON.stringify({ n: 0, old: true }) }] });
        await h.feedTrigger('fromKafka', 'messaging/kafkaFeed', { brokers: kafka.brokers.join(','), topic, isJSONData: true, maxBatchSize: 3 });
        await producer.send({ topic, messages: [1, 2, 3, 4, 5].map((n) => ({ key: `k${n}`, value: JSON.stringify({ n }) })) });

        let messages: Array<{ topic: string; partition: number; offset: number; key: string; value: { n: number } }> = [];
        await until('all five messages fired', async () => {
          const fires = await h.fires('fromKafka');
          messages = fires.flatMap((f) => f.response.result.messages as typeof messages);
          return messages.length >= 5;
        }, 20_000);
        expect(messages.map((m) => m.value)).to.deep.equal([1, 2, 3, 4, 5].map((n) => ({ n })));
        expect(messages[0]).to.deep.equal({ topic, partition: 0, offset: 1, key: 'k1', value: { n: 1 } });
        const fires = await h.fires('fromKafka');
        // one fetch, at most maxBatchSize per fire
        expect(fires.map((f) => (f.response.result.messages as unknown[]).length)).to.deep.equal([3, 2]);

        expect((await h.lifecycle('messaging/kafkaFeed', 'fromKafka', 'DELETE')).status).to.equal(200);
        await producer.send({ topic, messages: [{ value: JSON.stringify({ n: 6 }) }] });
        await sleep(2_500);
        expect(await h.fires('fromKafka')).to.have.length(2);
      } finally {
        await producer.disconnect();
        await admin.disconnect();
      }
    });

    it('CREATE with a topic the brokers do not have is an application error', async () => {
      await call('PUT', `${s.api}/namespaces/_/triggers/noTopic`, { auth: s.guestKey, body: {} });
      const r = await h.lifecycle('messaging/kafkaFeed', 'noTopic', 'CREATE', { brokers: '127.0.0.1:1', topic: 'missing' });
      expect(r.status).to.equal(502);
      expect(r.body.response.result.error).to.match(/Cannot read the topic 'missing' from the brokers 127\.0\.0\.1:1/);
    });
  });
});

describe('alarms across controller restarts and several controllers', function () {
  this.timeout(60_000);

  it('an alarm survives a controller restart', async () => {
    let s = await startTestServer({ SWIRL_LIMIT_FIRES_PER_MINUTE: '1000' });
    try {
      const h = client(s, s.guestKey);
      await h.echo();
      await h.feedTrigger('durable', 'alarms/alarm', { cron: '* * * * * *' });
      await until('a fire', async () => (await h.fires('durable')).length > 0, 3_000);
      await s.stop();
      const restarted = Date.now();
      s = await startTestServer({ SWIRL_LIMIT_FIRES_PER_MINUTE: '1000' }, s.dataDir);
      const h2 = client(s, s.guestKey);
      await until('a fire after the restart', async () => (await h2.fires('durable')).some((f) => f.start > restarted), 4_000);
    } finally {
      await s.destroy();
    }
  });

  describe('two controllers on one store and one Redis', function () {
    let redis: TestRedis;
    let a: TestServer | undefined;
    let b: TestServer | undefined;
    before(async () => {
      redis = await startRedis();
      // controllers of one store share its master key, and the guest key is known to both
      const shared = { SWIRL_MASTER_KEY: randomBytes(32).toString('base64'), SWIRL_GUEST_KEY: `${randomUUID()}:${newKey()}` };
      const env = { ...shared, SWIRL_REDIS_URL: redis.url, SWIRL_LIMIT_FIRES_PER_MINUTE: '1000', SWIRL_CONTROLLER_COUNT: '2' };
      a = await startTestServer({ ...env, SWIRL_CONTROLLER_ID: '0' });
      b = await startTestServer({ ...env, SWIRL_CONTROLLER_ID: '1', SWIRL_COUCHDB_URL: a.opened.url });
    });
    after(async () => {
      await b?.destroy();
      await a?.destroy();
      await redis?.cleanup();
    });

    it('each tick fires exactly once, whichever controller created the alarm; DELETE on the other stops it', async () => {
      const ha = client(a!, a!.guestKey);
      await ha.echo();
      // created through A; B picks it up on its next reload, well before the first tick
      const startDate = secondAfter(4_000);
      await ha.feedTrigger('shared', 'alarms/alarm', { cron: '* * * * * *', startDate, stopDate: startDate + 4_000 });
      await until('four fires', async () => (await ha.fires('shared')).length >= 4, startDate + 7_000 - Date.now());
      await sleep(1_500);
      // without the lease each controller would fire every tick: 8
      const fires = await ha.fires('shared');
      expect(fires).to.have.length(4);
      for (const f of fires) expect(f.start).to.be.within(startDate, startDate + 5_500);

      // and a change through B holds on A at once (A reads the alarm again before each fire)
      await ha.feedTrigger('shared2', 'alarms/alarm', { cron: '* * * * * *' });
      await until('fires', async () => (await ha.fires('shared2')).length > 0, 3_000);
      const hb = client(b!, b!.guestKey);
      expect((await hb.lifecycle('alarms/alarm', 'shared2', 'DELETE')).status).to.equal(200);
      await sleep(200);
      const after = (await ha.fires('shared2')).length;
      await sleep(2_000);
      expect((await ha.fires('shared2')).length).to.equal(after);
    });
  });
});
