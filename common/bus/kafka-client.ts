import { connect as netConnect, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type * as KafkaJs from 'kafkajs';
import type { ISocketFactory, Kafka, LogEntry, RetryOptions } from 'kafkajs';
import { Messages, ServiceUnavailableError } from '../errors.ts';
import { lazyPackage } from '../lazy-package.ts';
import type { Logger } from '../logger.ts';

/**
 * kafkajs client construction for KafkaBus: quiet logging, Nagle off, and a kill switch.
 *
 * kafkajs has no way to drop a consumer without a LeaveGroup, which is what a crash test
 * needs (the group must notice by session timeout and hand the partition to another member).
 * So every client gets its own socket factory; kill() destroys its sockets with an error
 * (kafkajs notices 'error', not 'close') and makes every later connection attempt fail, so
 * whatever kafkajs still tries — LeaveGroup, OffsetCommit — never reaches the broker.
 */
export interface KafkaClient {
  kafka: Kafka;
  kill(): void;
}

/** kafkajs, loaded when a client is made: a process with no Kafka bus or feed starts without it. */
const kafkajs = lazyPackage<typeof KafkaJs>('kafkajs');

/** kafkajs' own logs: errors surface as warnings (most are rebalances and retries it handles), the rest only at debug. */
function logCreator(log: Logger) {
  return () =>
    ({ namespace, level, log: { message, ...extra } }: LogEntry) => {
      const fields = { kafkajs: namespace, ...extra };
      if (level === kafkajs().logLevel.ERROR) log.warn(fields, message);
      else log.debug(fields, message);
    };
}

function killableSockets(): { socketFactory: ISocketFactory; kill(): void } {
  const sockets = new Set<Socket>();
  let killed = false;
  const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    let socket: Socket;
    if (killed) {
      socket = new Socket();
      process.nextTick(() => socket.destroy(new Error('connection killed')));
      return socket;
    }
    socket = ssl ? tlsConnect({ host, port, ...ssl }, onConnect) : netConnect({ host, port, noDelay: true }, onConnect);
    socket.setKeepAlive(true, 60_000);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    return socket;
  };
  return {
    socketFactory,
    kill() {
      killed = true;
      for (const socket of sockets) socket.destroy(new Error('connection killed'));
      sockets.clear();
    },
  };
}

export function createClient(options: { brokers: string[]; clientId: string; log: Logger; retry: RetryOptions; connectionTimeout?: number }): KafkaClient {
  const { socketFactory, kill } = killableSockets();
  const { Kafka, logLevel } = kafkajs();
  const kafka = new Kafka({
    brokers: options.brokers,
    clientId: options.clientId,
    connectionTimeout: options.connectionTimeout ?? 1_000,
    retry: options.retry,
    socketFactory,
    logLevel: logLevel.WARN,
    logCreator: logCreator(options.log),
  });
  return { kafka, kill };
}

/** What a caller sees of a kafkajs failure: the bus is unavailable (the cause keeps the details). */
export function unavailable(cause: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError(Messages.unavailable('The message bus'), { cause });
}
