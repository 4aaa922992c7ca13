import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedCouch } from '../../common/store/embedded-couch.ts';
import { expectError, sleep } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { type KafkaFixture, startKafkaFixture } from '../support/kafka-fixture.ts';
import { freePort } from '../support/process.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const factory = factoryNames()[0]!;

/**
 * When a backing service goes away the invoke path answers 503 with a message that says
 * which, and serves again on its own once the service is back — no restart.
 */
const COUCH_PASSWORD = 'outage-test-password-0123';

describe(`outages on the invoke path (${factory} containers)`, function () {
  this.timeout(90_000);
  let redis: TestRedis;
  let couch: EmbeddedCouch;
  let couchPort: number;
  let couchDir: string;
  let s: TestStack;

  const invoke = () => call('POST', `${s.api}/namespaces/_/actions/hello?blocking=true&result=true`, { auth: s.guestKey, body: { name: 'x' } });
  /** Retry until the invoke succeeds again (the services reconnect on their own). */
  const recovers = async (ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = await invoke();
      if (r.status === 200) return r;
      if (Date.now() > deadline) throw new Error(`no recovery within ${ms} ms: ${r.status} ${JSON.stringify(r.body)}`);
      await sleep(200);
    }
  };

  before(async () => {
    redis = await startRedis();
    couchDir = mkdtempSync(join(tmpdir(), 'swirl-outage-'));
    couchPort = await freePort();
    couch = await EmbeddedCouch.start(couchDir, couchPort, '127.0.0.1', COUCH_PASSWORD);
    s = await startTestStack(factory, {
      SWIRL_REDIS_URL: redis.url,
      SWIRL_BUS: 'redis',
      SWIRL_COUCHDB_URL: couch.url,
      // every request reads the store: nothing cached hides an outage
      SWIRL_AUTH_CACHE_MS: '0',
      SWIRL_ENTITY_CACHE_MS: '0',
    });
    const put = await call('PUT', `${s.api}/namespaces/_/actions/hello`, { auth: s.guestKey, body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return { hi: p.name } }' } } });
    expect(put.status).to.equal(200);
    expect((await invoke()).body).to.deep.equal({ hi: 'x' });
  });
  after(async () => {
    await s?.destroy();
    await couch?.stop();
    await redis?.cleanup();
    rmSync(couchDir, { recursive: true, force: true });
  });

  it('Redis (health, throttles and the bus) down: 503 naming it; invokes work again once it is back', async () => {
    await redis.stop();
    const r = await invoke();
    expectError(r, 503, /unavailable: Redis is not reachable\./);
    await redis.start();
    const back = await recovers(30_000);
    expect(back.body).to.deep.equal({ hi: 'x' });
  });

  it('the entity store down: 503 naming it; invokes work again once it is back', async () => {
    await couch.stop();
    expectError(await invoke(), 503, /store is currently unavailable/);
    couch = await EmbeddedCouch.start(couchDir, couchPort, '127.0.0.1', COUCH_PASSWORD); // the same credentials, as a CouchDB coming back has
    const back = await recovers(30_000);
    expect(back.body).to.deep.equal({ hi: 'x' });
  });
});

/** The Kafka bus going away (the test broker stopped; its data kept) and coming back. */
describe(`outage of the Kafka bus on the invoke path (${factory} containers)`, function () {
  this.timeout(90_000);
  let redis: TestRedis;
  let kafka: KafkaFixture;
  let s: TestStack;
  const invoke = () => call('POST', `${s.api}/namespaces/_/actions/hello?blocking=true&result=true`, { auth: s.guestKey, body: { name: 'k' } });

  before(async function () {
    kafka = await startKafkaFixture();
    // a real cluster (KAFKA_BROKERS) cannot be stopped from here
    if (!kafka.broker) return this.skip();
    redis = await startRedis();
    s = await startTestStack(factory, { SWIRL_REDIS_URL: redis.url, SWIRL_BUS: 'kafka', SWIRL_KAFKA_BROKERS: kafka.brokers.join(',') });
    await call('PUT', `${s.api}/namespaces/_/actions/hello`, { auth: s.guestKey, body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return { hi: p.name } }' } } });
    expect((await invoke()).body).to.deep.equal({ hi: 'k' });
  });
  after(async () => {
    await s?.destroy();
    await kafka?.cleanup();
    await redis?.cleanup();
  });

  it('the broker down: 503 naming the bus; invokes work again once it is back', async () => {
    await kafka.broker!.stop();
    expectError(await invoke(), 503, 'The activation could not be scheduled: the message bus is not reachable.');
    await kafka.broker!.restart();
    const deadline = Date.now() + 60_000;
    let r = await invoke();
    while (r.status !== 200 && Date.now() < deadline) {
      await sleep(250);
      r = await invoke();
    }
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body).to.deep.equal({ hi: 'k' });
  });
});
