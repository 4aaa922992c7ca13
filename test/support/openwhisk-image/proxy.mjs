// A stand-in for OpenWhisk's own runtime images, run by the tests as a blackbox action. It
// keeps OpenWhisk's runtime contract to the letter, as those images do:
// - /init: `code`, when the body has it (even empty), replaces the executable /action/exec,
//   as OpenWhisk's docker-skeleton (actionproxy.py) does; without `code` the image's own
//   executable stays. `env` is added to the environment of every run.
// - /run: /action/exec gets the parameters as its one argument and every other field of the
//   body as `__OW_<FIELD>`; its last stdout line is the result, the lines before it and its
//   stderr are the activation's logs.
// - a failed run (an exit, a last line that is no JSON object, an executable that cannot be
//   run) stops the proxy for good: every later call answers 403 `System not ready, status
//   is stopped.`, as OpenWhisk's nodejs proxy (service.js) after an uncaught error.
// - it writes no end-of-activation markers.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import process from 'node:process';

const EXEC = '/action/exec';
let status = 'ready';
let initialized = false;
let initEnv = {};

const send = (res, code, body) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const asEnv = (fields) => Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));

function init(value, res) {
  if (status !== 'ready') return send(res, 403, { error: `System not ready, status is ${status}.` });
  if (initialized) return send(res, 403, { error: 'Cannot initialize the action more than once.' });
  if ('code' in value && value.code !== null) {
    writeFileSync(EXEC, value.binary ? Buffer.from(value.code, 'base64') : value.code);
    chmodSync(EXEC, 0o755);
  }
  try {
    accessSync(EXEC, constants.X_OK);
  } catch {
    return send(res, 502, { error: 'The action failed to generate or locate a binary. See logs for details.' });
  }
  initEnv = asEnv(value.env ?? {});
  initialized = true;
  send(res, 200, { ok: true });
}

function run(body, res) {
  if (status !== 'ready' || !initialized) return send(res, 403, { error: `System not ready, status is ${initialized ? status : 'not initialized'}.` });
  status = 'running';
  const fields = Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'value').map(([k, v]) => [`__OW_${k.toUpperCase()}`, v]));
  const fail = (reason) => {
    status = 'stopped';
    send(res, 502, { error: `An error has occurred: ${reason}` });
  };
  let child;
  try {
    child = spawn(EXEC, [JSON.stringify(body.value ?? {})], { env: { ...process.env, ...initEnv, ...asEnv(fields) }, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return fail(e.message);
  }
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.pipe(process.stderr, { end: false });
  child.on('error', (e) => fail(e.message));
  child.on('close', (code) => {
    if (status !== 'running') return;
    const lines = out.split('\n').filter((l) => l !== '');
    const last = lines.pop() ?? '';
    for (const l of lines) process.stdout.write(`${l}\n`);
    let result;
    try {
      result = JSON.parse(last);
    } catch {
      result = undefined;
    }
    if (code !== 0) return fail(`the action exited with code ${code}`);
    if (typeof result !== 'object' || result === null || Array.isArray(result)) return fail('The action did not return a dictionary.');
    status = 'ready';
    send(res, 200, result);
  });
}

createServer((req, res) => {
  let text = '';
  req.on('data', (d) => (text += d));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(text || '{}');
    } catch {
      return send(res, 400, { error: 'bad json' });
    }
    if (req.method === 'POST' && req.url === '/init') return init(body.value ?? {}, res);
    if (req.method === 'POST' && req.url === '/run') return run(body, res);
    send(res, 404, { error: 'not found' });
  });
}).listen(8080, '0.0.0.0');
