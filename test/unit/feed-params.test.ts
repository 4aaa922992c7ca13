import { expect } from 'chai';
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
});
