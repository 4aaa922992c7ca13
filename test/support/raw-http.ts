import { connect, type Socket } from 'node:net';
import type { Reply } from './server.ts';

/**
 * HTTP on a bare socket, for what fetch will not send: malformed request lines, oversized
 * headers, a Content-Length the body never reaches, a body that trickles. The reply is the
 * first response on the connection, parsed like `call()` parses one.
 */
export interface RawConnection {
  socket: Socket;
  /** The first response, once whole (or what came before the server closed the connection). */
  reply: Promise<Reply>;
}

function parse(data: Buffer): { reply: Reply; whole: boolean } | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Headers();
  for (const line of lines) {
    const i = line.indexOf(':');
    headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const length = Number(headers.get('content-length') ?? 0);
  const bytes = data.subarray(end + 4, end + 4 + length);
  const text = bytes.toString('utf8');
  const json = (headers.get('content-type') ?? '').includes('json') && text !== '';
  return { reply: { status: Number(statusLine!.split(' ')[1]), headers, body: json ? JSON.parse(text) : text }, whole: bytes.length >= length };
}

export function rawConnection(url: string, timeoutMs = 10_000): RawConnection {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const reply = new Promise<Reply>((ok, fail) => {
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
    const done = (r: Reply | Error) => {
      clearTimeout(timer);
      if (r instanceof Error) fail(r);
      else ok(r);
    };
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const parsed = parse(data);
      if (parsed?.whole) done(parsed.reply);
    });
    const closed = () => {
      const parsed = parse(data);
      done(parsed ? parsed.reply : new Error(`the connection closed without a response (${data.length} bytes)`));
    };
    socket.on('close', closed);
    // a server that answers and closes while the client still sends resets the connection: the answer stands
    socket.on('error', closed);
  });
  reply.catch(() => undefined);
  return { socket, reply };
}

/** Send `data` on a new connection and return the response. */
export async function rawRequest(url: string, data: string | Buffer): Promise<Reply> {
  const c = rawConnection(url);
  c.socket.write(data);
  try {
    return await c.reply;
  } finally {
    c.socket.destroy();
  }
}
