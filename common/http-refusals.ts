import { maxHeaderSize, type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { Messages } from './errors.ts';
import type { Logger } from './logger.ts';
import { newTransactionId } from './txid.ts';

/**
 * Answers for the requests Node handles before any handler runs, in OpenWhisk's shape
 * `{"error", "code"}` with a new transaction id, as every other error, instead of Node's empty
 * bodies (or a silently closed connection), and a log line for each.
 */

/** What Node refuses itself, by its error code: the status and the message. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, Messages.headersTooLarge(maxHeaderSize)],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, Messages.chunkExtensionsTooLarge],
  ERR_HTTP_REQUEST_TIMEOUT: [408, Messages.requestTimeout],
};

/** Sockets already answered: Node's parser reports its error again for every chunk that follows. */
const answered = new WeakSet<Duplex>();

/** Write a whole error response on the socket and close it once the client has it (a second at most). */
function refuse(socket: Duplex, status: number, message: string, log: Logger, detail: Record<string, unknown>): void {
  const tid = newTransactionId();
  log.info({ tid, status, ...detail }, 'request refused before it reached a handler');
  const body = JSON.stringify({ error: message, code: tid });
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status]}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, `X-Request-ID: ${tid}`, 'Connection: close'];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * A request line or header Node cannot parse (400), headers over its limit (431), a request
 * not received in time (408), and CONNECT, which Node hands to a 'connect' listener or drops
 * (405: swirl is no proxy).
 */
export function answerRefusals(server: Server, log: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (answered.has(socket)) return;
    answered.add(socket);
    const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    // a reset connection, or one whose response has begun, cannot be answered
    if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, Messages.requestUnparsable];
    refuse(socket, status, message, log, { code: err.code, reason: (err as { reason?: string }).reason });
  });
  server.on('connect', (_req, socket: Duplex) => refuse(socket, 405, Messages.methodNotAllowed, log, { method: 'CONNECT' }));
}
