import { expect } from 'chai';
import { fires } from '../../controller/feeds/kafka.ts';
import { feedMessage, type KafkaFeedConfig } from '../../controller/feeds/kafka-config.ts';
import { triggerPayload } from '../../controller/feeds/params.ts';

const deep = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);

describe('feed inputs from outside', () => {
  it('trigger_payload: a JSON object string is the payload, unless nested too deep to hand on: then it is the string', () => {
    expect(triggerPayload('{"a":{"b":1}}')).to.deep.equal({ a: { b: 1 } });
    expect(triggerPayload(deep)).to.deep.equal({ payload: deep });
    expect(triggerPayload('not json')).to.deep.equal({ payload: 'not json' });
  });

  it('kafkaFeed isJSONData: a message nested too deep is delivered as its text', () => {
    const config = { isJSONData: true, isBinaryKey: false, isBinaryValue: false } as KafkaFeedConfig;
    const message = (value: string) => feedMessage(config, 't', 0, { offset: '7', key: null, value: Buffer.from(value) });
    expect(message('{"n":1}').value).to.deep.equal({ n: 1 });
    expect(message(deep)).to.deep.equal({ topic: 't', partition: 0, offset: 7, key: null, value: deep });
  });

  it('kafkaFeed: a fetched batch fires in chunks of at most maxBatchSize messages and about 1 MB, a larger message alone', () => {
    const m = (bytes: number, key: string | null = null) => ({ key: key === null ? null : Buffer.from(key), value: Buffer.alloc(bytes) });
    const sizes = (chunks: Array<Array<{ value: Buffer | null }>>) => chunks.map((c) => c.map((x) => x.value!.length));
    expect(sizes([...fires([m(1), m(1), m(1), m(1), m(1)], 2, 1000)])).to.deep.equal([[1, 1], [1, 1], [1]]);
    expect(sizes([...fires([m(400), m(400), m(400), m(2000), m(10)], 100, 1000)])).to.deep.equal([[400, 400], [400], [2000], [10]]);
    expect([...fires([m(500, 'k'.repeat(500)), m(1)], 100, 1000)].map((c) => c.length)).to.deep.equal([1, 1]);
    expect([...fires([], 100, 1000)]).to.deep.equal([]);
  });
});
