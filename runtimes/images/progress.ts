/** One event of a Docker JSON progress stream (build, pull, import). */
export interface ProgressEvent {
  stream?: string;
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
  aux?: unknown;
}

/**
 * Read a Docker progress stream to its end, handing each event to `onEvent`; rejects with
 * the first error event, or when nothing arrives for `idleMs`.
 */
export function followJson(stream: NodeJS.ReadableStream, onEvent: (evt: ProgressEvent) => void, idleMs = 0): Promise<void> {
  return new Promise((ok, fail) => {
    let buf = '';
    let error: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const idle = () => {
      if (!idleMs) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        done(new Error(`no progress for ${idleMs / 1000} s`));
      }, idleMs);
    };
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) fail(err);
      else ok();
    };
    const line = (text: string) => {
      if (!text.trim()) return;
      let evt: ProgressEvent;
      try {
        evt = JSON.parse(text) as ProgressEvent;
      } catch {
        evt = { stream: text };
      }
      if (evt.error) error ??= evt.errorDetail?.message ?? evt.error;
      else onEvent(evt);
    };
    idle();
    stream.on('data', (chunk: Buffer | string) => {
      idle();
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        line(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    stream.on('error', (e: Error) => done(e));
    stream.on('end', () => {
      line(buf);
      done(error ? new Error(error) : undefined);
    });
  });
}
