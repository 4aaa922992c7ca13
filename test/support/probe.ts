/**
 * An action that probes the network from inside its container: for each target it tries
 * what it is given — a TCP connection, or an HTTP POST of a body to a path (/init with its
 * own code, /run) — and reports what happened (`connected`, `answered <status> <body>`,
 * `timeout`, or the error code), never waiting more than 2 s; `self` for its own address.
 * With `api: true` it also calls the API at `__OW_API_HOST`.
 */
export const PROBE = `
const net = require('node:net');
const http = require('node:http');
const own = new Set(Object.values(require('node:os').networkInterfaces()).flat().map((i) => i.address));
const tcp = (t) => new Promise((ok) => {
  const s = net.connect({ host: t.host, port: t.port });
  const done = (o) => { s.destroy(); ok(o); };
  s.setTimeout(2000, () => done('timeout'));
  s.once('connect', () => done('connected'));
  s.once('error', (e) => done(e.code));
});
const post = (t) => new Promise((ok) => {
  const body = JSON.stringify(t.body || {});
  const req = http.request({ host: t.host, port: t.port, path: t.path, method: 'POST', timeout: 2000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
    let b = '';
    res.on('data', (d) => (b += d));
    res.on('end', () => ok('answered ' + res.statusCode + ' ' + b.slice(0, 200)));
  });
  req.on('timeout', () => { req.destroy(); ok('timeout'); });
  req.on('error', (e) => ok(e.code));
  req.end(body);
});
async function main(p) {
  const out = {};
  await Promise.all(Object.entries(p.targets || {}).map(async ([name, t]) => { out[name] = own.has(t.host) ? 'self' : await (t.path ? post(t) : tcp(t)); }));
  if (p.api) {
    try { out.api = 'answered ' + (await fetch(process.env.__OW_API_HOST + '/api/v1')).status; } catch (e) { out.api = String((e.cause && e.cause.code) || e.message); }
  }
  return out;
}`;

export interface Target {
  host: string;
  port: number;
  path?: string;
  body?: unknown;
}

