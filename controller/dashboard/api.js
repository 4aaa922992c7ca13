// The dashboard's client of swirl's API: the key goes in the Authorization header of every
// call (fetch, so that the activation stream needs no token in its URL). No credentials mode:
// the browser then shows no password dialog for a 401 with its Basic challenge (a wrong key).

/** An API error in OpenWhisk's shape: the message, the status, the transaction id. */
export class ApiError extends Error {
  constructor(status, message, code) {
    super(code ? `${message} (code ${code})` : message);
    this.status = status;
  }
}

export function client(key) {
  const authorization = 'Basic ' + btoa(key);
  const call = async (method, path, body) => {
    const res = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'omit',
      headers: { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = text;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, data };
  };
  const ok = async (method, path, body) => {
    const r = await call(method, path, body);
    if (r.status >= 400) throw new ApiError(r.status, r.data?.error ?? `HTTP ${r.status}`, r.data?.code);
    return r.data;
  };
  return {
    call,
    get: (path) => ok('GET', path),
    /**
     * Follow a server-sent event stream: `onEvent({event, data})` per event, `onOpen()` once
     * connected. Resolves when the stream ends; rejects on an HTTP error or a network failure.
     */
    async stream(path, { onEvent, onOpen, signal }) {
      const res = await fetch(`/api/v1${path}`, { headers: { authorization, accept: 'text/event-stream' }, credentials: 'omit', signal });
      if (!res.ok || !res.body) {
        const data = await res.json().catch(() => ({}));
        throw new ApiError(res.status, data.error ?? `HTTP ${res.status}`, data.code);
      }
      onOpen?.();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = { event: 'message', data: '' };
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.event = val;
            else if (field === 'data') data.push(val);
          }
          if (data.length) onEvent({ ...event, data: data.join('\n') });
        }
      }
    },
  };
}
