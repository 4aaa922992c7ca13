import type { KeyValue } from '../../common/entities.ts';
import { BUILTIN_KIND } from '../feeds/lifecycle.ts';
import type { SystemAction, SystemPackage } from './packages.ts';

/** A feed action the controller runs itself (`exec.main` names the feed), described as OpenWhisk's catalog does. */
function feedAction(name: string, main: string, description: string, parameters: Array<{ name: string; required: boolean; description: string }>): SystemAction {
  const annotations: KeyValue[] = [
    { key: 'feed', value: true },
    { key: 'parameters', value: parameters },
  ];
  return { name, description, exec: { kind: BUILTIN_KIND, main, binary: false }, annotations };
}

const payload = { name: 'trigger_payload', required: false, description: 'The payload of every fire (an object, or a string sent as {payload})' };
const startDate = { name: 'startDate', required: false, description: 'No fire before this date (ISO 8601 or epoch ms)' };
const stopDate = { name: 'stopDate', required: false, description: 'No fire from this date on' };

/** `/whisk.system/alarms`: triggers fired on a schedule (a cron pattern, every N minutes, or once). */
export const alarmsPackage: SystemPackage = {
  name: 'alarms',
  annotations: [{ key: 'description', value: 'Alarms and periodic utility' }],
  actions: [
    feedAction('alarm', 'alarms/alarm', 'Fire trigger when alarm occurs', [
      { name: 'cron', required: true, description: 'A cron pattern: 5 fields, or 6 with seconds first' },
      { name: 'timezone', required: false, description: 'The time zone of the pattern (IANA name; default UTC)' },
      payload,
      startDate,
      stopDate,
    ]),
    feedAction('interval', 'alarms/interval', 'Fire trigger at specified interval', [
      { name: 'minutes', required: true, description: 'Minutes between fires' },
      payload,
      { ...startDate, description: 'The first fire (default: 30 seconds after creation)' },
      stopDate,
    ]),
    feedAction('once', 'alarms/once', 'Fire trigger once when alarm occurs', [
      { name: 'date', required: true, description: 'When to fire (ISO 8601 or epoch ms)' },
      payload,
      { name: 'deleteAfterFire', required: false, description: 'false (default), true: delete the trigger after the fire, rules: the trigger and its rules' },
    ]),
  ],
};

/** `/whisk.system/messaging`: triggers fired by messages on a Kafka topic. */
export const messagingPackage: SystemPackage = {
  name: 'messaging',
  annotations: [{ key: 'description', value: 'Fire triggers from messages on Kafka topics' }],
  actions: [
    feedAction('kafkaFeed', 'messaging/kafkaFeed', 'Feed to listen to Kafka messages', [
      { name: 'brokers', required: true, description: 'Kafka brokers: host:port, an array or comma-separated (kafka_brokers_sasl is read too)' },
      { name: 'topic', required: true, description: 'Topic to subscribe to' },
      { name: 'isJSONData', required: false, description: 'Parse each value as JSON' },
      { name: 'isBinaryKey', required: false, description: 'Deliver keys base64-encoded' },
      { name: 'isBinaryValue', required: false, description: 'Deliver values base64-encoded' },
      { name: 'maxBatchSize', required: false, description: 'Most messages per fire (default 100)' },
    ]),
  ],
};
