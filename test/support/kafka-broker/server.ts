import { createServer, type Server, type Socket } from 'node:net';
import Decoder from 'kafkajs/src/protocol/decoder.js';
import type Encoder from 'kafkajs/src/protocol/encoder.js';
import type { RequestHeader } from './protocol.ts';

/**
 * TCP and framing for the Kafka test broker. Every frame is an INT32 size then the request
 * (header v1 + body); a response is an INT32 size, the correlation id, then the body.
 * Like a real broker, a connection's requests are handled one at a time, in order: the next
 * one is not read until the previous one is answered (a long-polling fetch holds its
 * connection — kafkajs gives fetches a connection of their own).
 */

/** Answers one request: the response body, or null for none (produce with acks=0). */
export type RequestHandler = (header: RequestHeader, body: Decoder) => Promise<Encoder | null>;

/** Frames larger than this are refused (the client is broken or not speaking Kafka). */
const MAX_FRAME = 100 * 1024 * 1024;

export class FrameServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly handle: RequestHandler,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Listen on 127.0.0.1; port 0 picks a free one. Resolves to the port. */
  listen(port: number): Promise<number> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Stop listening and drop every connection at once (clients see the broker go away). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const frames = new FrameReader();
    let queue = Promise.resolve();
    socket.on('data', (chunk) => {
      let complete: Buffer[];
      try {
        complete = frames.push(chunk);
      } catch (e) {
        this.onError(e as Error);
        socket.destroy();
        return;
      }
      for (const frame of complete) queue = queue.then(() => this.answer(socket, frame));
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async answer(socket: Socket, frame: Buffer): Promise<void> {
    if (socket.destroyed) return;
    const decoder = new Decoder(frame);
    const header: RequestHeader = {
      apiKey: decoder.readInt16(),
      apiVersion: decoder.readInt16(),
      correlationId: decoder.readInt32(),
      clientId: decoder.readString(),
    };
    let body: Encoder | null;
    try {
      body = await this.handle(header, decoder);
    } catch (e) {
      // a request the broker cannot parse or serve: a real broker closes the connection
      this.onError(e as Error);
      socket.destroy();
      return;
    }
    if (!body || socket.destroyed) return;
    const out = Buffer.allocUnsafe(8 + body.size());
    out.writeInt32BE(4 + body.size(), 0);
    out.writeInt32BE(header.correlationId, 4);
    body.buffer.copy(out, 8, 0, body.size());
    socket.write(out);
  }
}

/** Cuts a byte stream into size-prefixed frames. */
class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (size < 0 || size > MAX_FRAME) throw new Error(`bad frame size ${size}`);
      if (this.pending.length < 4 + size) break;
      frames.push(this.pending.subarray(4, 4 + size));
      this.pending = this.pending.subarray(4 + size);
    }
    return frames;
  }
}
