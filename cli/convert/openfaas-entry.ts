/**
 * Entry points for converted OpenFaaS functions: swirl's runtimes call `main(params)`; these
 * build the request OpenFaaS's templates hand the handler (from a raw-http web request's
 * `__ow_*` fields, or from the parameters of a plain invoke, taken as a JSON body), call the
 * handler in the template's style, and answer `{statusCode, headers, body}` as a web action
 * does. The function's environment arrives in CONFIG_PARAM (a final action parameter).
 */
export const CONFIG_PARAM = '__OPENFAAS_CONFIG';
export const NODE_ENTRY = '__swirl_openfaas__.cjs';
export const PYTHON_ENTRY = '__main__.py';

/** `event`: node12+ of-watchdog templates, `(event, context)`; `classic`: the classic node template, `(body, callback)`. */
export type NodeStyle = 'event' | 'classic';
/** `http`: python3-http, `handle(event, context)` → {statusCode, body, headers}; `classic`: python3, `handle(req)` → string. */
export type PythonStyle = 'http' | 'classic';

export const nodeSource = (style: NodeStyle, handlerFile: string) => `'use strict';
// Added by swirl convert: calls the OpenFaaS handler as the ${style === 'event' ? 'node of-watchdog' : 'classic node'} template does.
const handler = require(${JSON.stringify(`./${handlerFile}`)});
const CONFIG = ${JSON.stringify(CONFIG_PARAM)};
// a raw-http action gets text as a string, everything else (JSON too, as in OpenWhisk) as base64
const TEXT = /^text[/]|xml|x-www-form-urlencoded|javascript/i;

function request(params) {
  const { [CONFIG]: cfg = {}, __ow_method, __ow_headers, __ow_path, __ow_query, __ow_body, __ow_user, ...rest } = params;
  Object.assign(process.env, cfg.environment || {});
  const headers = __ow_headers || { 'content-type': 'application/json' };
  const type = String(headers['content-type'] || '');
  let body = rest;
  if (typeof __ow_body === 'string') {
    body = TEXT.test(type) && !/json/i.test(type) ? __ow_body : Buffer.from(__ow_body, 'base64');
    if (/json/i.test(type)) try { body = JSON.parse(body.toString('utf8')); } catch { body = body.toString('utf8'); /* as text, which body-parser would refuse */ }
  }
  const query = Object.fromEntries(new URLSearchParams(__ow_query || ''));
  return { body, headers, method: String(__ow_method || 'POST').toUpperCase(), query, path: __ow_path || '/' };
}

function answer(statusCode, headers, value) {
  if (Buffer.isBuffer(value)) return { statusCode, headers: { 'content-type': 'application/octet-stream', ...headers }, body: value.toString('base64') };
  if (value !== null && typeof value === 'object') return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: value };
  return { statusCode, headers: { 'content-type': 'text/html; charset=utf-8', ...headers }, body: value === undefined ? '' : String(value) };
}

function callEvent(event) {
  return new Promise((resolve) => {
    const ctx = {
      statusCode: 200, headerValues: {}, called: false,
      status(v) { if (!v) return this.statusCode; this.statusCode = v; return this; },
      headers(v) { if (!v) return this.headerValues; this.headerValues = v; return this; },
      succeed(v) { this.called = true; resolve(answer(this.statusCode, this.headerValues, v)); },
      fail(e) { this.called = true; resolve(answer(500, {}, String(e))); },
    };
    const cb = (err, v) => (err ? ctx.fail(err) : ctx.succeed(v));
    Promise.resolve().then(() => handler(event, ctx, cb)).then((v) => { if (!ctx.called) ctx.succeed(v); }, (e) => ctx.fail(e));
  });
}

function callClassic(event) {
  return new Promise((resolve) => {
    const text = typeof event.body === 'string' ? event.body : Buffer.isBuffer(event.body) ? event.body.toString() : JSON.stringify(event.body);
    let done = false;
    const cb = (err, v) => { if (done) return; done = true; resolve(err ? answer(500, {}, String(err)) : answer(200, {}, v)); };
    Promise.resolve().then(() => handler(text, cb)).then((v) => { if (v !== undefined) cb(undefined, v); }, (e) => cb(e));
  });
}

async function main(params) {
  const event = request(params);
  return ${style === 'event' ? 'callEvent' : 'callClassic'}(event);
}

module.exports = { main };
`;

export const pythonSource = (style: PythonStyle) => `# Added by swirl convert: calls the OpenFaaS handler as the ${style === 'http' ? 'python3-http' : 'python3'} template does.
import base64
import json
import os
from urllib.parse import parse_qsl

import handler

CONFIG = ${JSON.stringify(CONFIG_PARAM)}
TEXT = ("text/", "xml", "x-www-form-urlencoded", "javascript")  # a raw-http action gets these as strings, the rest (JSON too) as base64


class Event(object):
    def __init__(self, params):
        headers = params.get("__ow_headers") or {"content-type": "application/json"}
        raw = params.get("__ow_body")
        if isinstance(raw, str):
            kind = str(headers.get("content-type", ""))
            body = raw.encode("utf-8") if any(t in kind for t in TEXT) and "json" not in kind else base64.b64decode(raw)
        else:
            body = json.dumps({k: v for k, v in params.items() if k != CONFIG and not k.startswith("__ow_")}).encode("utf-8")
        self.body = body
        self.headers = headers
        self.method = str(params.get("__ow_method") or "post").upper()
        self.query = dict(parse_qsl(params.get("__ow_query") or ""))
        self.path = params.get("__ow_path") or "/"


class Context(object):
    def __init__(self):
        self.hostname = os.environ.get("HOSTNAME", "localhost")


def answer(status, headers, body):
    if isinstance(body, (dict, list)):
        return {"statusCode": status, "headers": dict({"content-type": "application/json"}, **headers), "body": body}
    if isinstance(body, bytes):
        return {"statusCode": status, "headers": dict({"content-type": "application/octet-stream"}, **headers), "body": base64.b64encode(body).decode()}
    return {"statusCode": status, "headers": dict({"content-type": "text/html; charset=utf-8"}, **headers), "body": "" if body is None else str(body)}


def main(params):
    for k, v in ((params.get(CONFIG) or {}).get("environment") or {}).items():
        os.environ[k] = str(v)
    event = Event(params)
    try:
${style === 'http'
  ? `        res = handler.handle(event, Context())
        if not isinstance(res, dict):
            return answer(200, {}, res)
        return answer(int(res.get("statusCode") or 200), res.get("headers") or {}, res.get("body", ""))`
  : `        return answer(200, {}, handler.handle(event.body.decode("utf-8", "replace")))`}
    except Exception as e:
        import traceback
        traceback.print_exc()
        return answer(500, {}, str(e))
`;
