/**
 * Lambda handlers run as they are, through a small entry point added to the function's zip
 * when it is created or updated: swirl's runtimes (and OpenWhisk's) call `main(params)` and
 * need an object back; the entry point calls the handler as Lambda does — `(event, context)`
 * awaited, or `(event, context, callback)` — and answers `{payload}` or `{error}` in Lambda's
 * error shape. What it needs arrives as two parameters: EVENT_PARAM (the invocation's payload,
 * any JSON) and CONFIG_PARAM (handler, name, memory, ARN, environment variables), an action
 * parameter and so sealed at rest like any other. A wrapper rather than a runtime mode: the
 * runtimes stay as they are, images need no rebuild, and the same zip runs on any runtime
 * that follows OpenWhisk's contract.
 */
export const EVENT_PARAM = '__LAMBDA_EVENT';
export const CONFIG_PARAM = '__LAMBDA_CONFIG';

/** What the entry point is told about its function (CONFIG_PARAM). */
export interface HandlerConfig {
  handler: string;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: number;
  environment: Record<string, string>;
}

export const NODE_ENTRY = '__swirl_lambda__.cjs';

/** The Node.js entry point (CommonJS, so that a `"type": "module"` package still loads it; the handler's file may be either kind). */
const NODE_SOURCE = `'use strict';
// Added by swirl's Lambda endpoint: calls the function's Lambda handler as AWS Lambda does.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const EVENT = ${JSON.stringify(EVENT_PARAM)};
const CONFIG = ${JSON.stringify(CONFIG_PARAM)};
let loaded;

function fail(errorType, errorMessage) {
  return Object.assign(new Error(errorMessage), { name: errorType, lambdaErrorType: errorType });
}

async function load(handler) {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw fail('Runtime.MalformedHandlerName', "Bad handler " + handler + ": expected 'file.function'");
  const base = join(__dirname, handler.slice(0, dot));
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
  if (!file) throw fail('Runtime.ImportModuleError', "Error: Cannot find module '" + handler.slice(0, dot) + "'");
  const mod = await import(pathToFileURL(file).href);
  const name = handler.slice(dot + 1);
  const fn = mod[name] ?? (mod.default && mod.default[name]);
  if (typeof fn !== 'function') throw fail('Runtime.HandlerNotFound', handler + ' is undefined or not exported');
  return fn;
}

function context(cfg) {
  const id = process.env.__OW_ACTIVATION_ID || '';
  const deadline = Number(process.env.__OW_DEADLINE || 0);
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  return {
    functionName: cfg.functionName,
    functionVersion: cfg.functionVersion,
    invokedFunctionArn: cfg.invokedFunctionArn,
    memoryLimitInMB: String(cfg.memoryLimitInMB),
    awsRequestId: id,
    logGroupName: '/aws/lambda/' + cfg.functionName,
    logStreamName: day + '/[' + cfg.functionVersion + ']' + id,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function run(fn, event, ctx) {
  return new Promise((resolve, reject) => {
    const callback = (err, result) => (err ? reject(err instanceof Error ? err : fail(typeof err, String(err))) : resolve(result));
    Object.assign(ctx, { done: callback, succeed: (r) => callback(null, r), fail: (e) => callback(e || 'failed') });
    try {
      const out = fn(event, ctx, callback);
      if (fn.length < 3 || (out && typeof out.then === 'function')) Promise.resolve(out).then(resolve, reject);
    } catch (e) {
      reject(e);
    }
  });
}

async function main(params) {
  const { [EVENT]: event, [CONFIG]: cfg = {}, ...rest } = params;
  const region = String(cfg.invokedFunctionArn || '').split(':')[3] || '';
  // the variables Lambda sets for its functions, then the function's own
  Object.assign(process.env, { AWS_REGION: region, AWS_DEFAULT_REGION: region, AWS_LAMBDA_FUNCTION_NAME: cfg.functionName, AWS_LAMBDA_FUNCTION_VERSION: cfg.functionVersion,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(cfg.memoryLimitInMB), AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/' + cfg.functionName, LAMBDA_TASK_ROOT: __dirname }, cfg.environment || {});
  try {
    loaded ??= await load(cfg.handler);
    const result = await run(loaded, EVENT in params ? event : rest, context(cfg));
    return { payload: result === undefined ? null : result };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    console.error(err.stack || String(err));
    return { error: { errorType: err.lambdaErrorType || err.name || 'Error', errorMessage: err.message, trace: String(err.stack || '').split('\\n') } };
  }
}

module.exports = { main };
`;

export const PYTHON_ENTRY = '__main__.py';

/** The Python entry point: `__main__.py`, what swirl's (and OpenWhisk's) Python runtime runs from a zip. */
const PYTHON_SOURCE = `# Added by swirl's Lambda endpoint: calls the function's Lambda handler as AWS Lambda does.
import importlib
import os
import sys
import time
import traceback

EVENT = ${JSON.stringify(EVENT_PARAM)}
CONFIG = ${JSON.stringify(CONFIG_PARAM)}
_handler = None


class LambdaContext(object):
    def __init__(self, cfg):
        request_id = os.environ.get("__OW_ACTIVATION_ID", "")
        self.function_name = cfg.get("functionName")
        self.function_version = cfg.get("functionVersion")
        self.invoked_function_arn = cfg.get("invokedFunctionArn")
        self.memory_limit_in_mb = str(cfg.get("memoryLimitInMB"))  # a string, as in Lambda's own runtime
        self.aws_request_id = request_id
        self.log_group_name = "/aws/lambda/%s" % self.function_name
        self.log_stream_name = "%s/[%s]%s" % (time.strftime("%Y/%m/%d", time.gmtime()), self.function_version, request_id)
        self._deadline = int(os.environ.get("__OW_DEADLINE") or 0)

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline - int(time.time() * 1000))


class HandlerError(Exception):
    def __init__(self, error_type, message):
        Exception.__init__(self, message)
        self.error_type = error_type


def load(handler):
    module_name, _, name = (handler or "").rpartition(".")
    if not module_name:
        raise HandlerError("Runtime.MalformedHandlerName", "Bad handler '%s': not enough values to unpack" % handler)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise HandlerError("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, e))
    fn = getattr(module, name, None)
    if not callable(fn):
        raise HandlerError("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (name, module_name))
    return fn


def main(params):
    global _handler
    cfg = params.get(CONFIG) or {}
    event = params[EVENT] if EVENT in params else {k: v for k, v in params.items() if k != CONFIG}
    region = (str(cfg.get("invokedFunctionArn") or "").split(":") + [""] * 4)[3]
    # the variables Lambda sets for its functions, then the function's own
    reserved = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_LAMBDA_FUNCTION_NAME": cfg.get("functionName"),
                "AWS_LAMBDA_FUNCTION_VERSION": cfg.get("functionVersion"), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": cfg.get("memoryLimitInMB"),
                "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/%s" % cfg.get("functionName"), "LAMBDA_TASK_ROOT": os.getcwd()}
    for k, v in list(reserved.items()) + list((cfg.get("environment") or {}).items()):
        os.environ[k] = str(v)
    try:
        if _handler is None:
            _handler = load(cfg.get("handler"))
        return {"payload": _handler(event, LambdaContext(cfg))}
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return {"error": {
            "errorMessage": str(e),
            "errorType": getattr(e, "error_type", type(e).__name__),
            "requestId": os.environ.get("__OW_ACTIVATION_ID", ""),
            "stackTrace": traceback.format_tb(e.__traceback__),
        }}
`;

export type LambdaKind = 'nodejs:20' | 'python:3';

/** The swirl kind a Lambda runtime runs on, or undefined for a runtime not served. */
export function lambdaKind(runtime: string): LambdaKind | undefined {
  if (/^nodejs(18|20|22)\.x$/.test(runtime)) return 'nodejs:20';
  if (/^python3\.(8|9|1[0-3])$/.test(runtime)) return 'python:3';
  return undefined;
}

export const LAMBDA_RUNTIMES = 'nodejs18.x, nodejs20.x, nodejs22.x and python3.8 to python3.13';

/** A zip's files that cannot take the entry point (a file of its name already, a package.json that is no JSON). */
export class EntryPointError extends Error {}

/** The annotation that marks an action made as a Lambda function, with what Lambda shows of it. */
export const LAMBDA_ANNOTATION = 'lambda';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * The function's files (a zip's, unzipped) with the entry point for its kind added (for
 * Node.js, package.json's `main` pointed at it, the rest of package.json kept). Pure, so that
 * the controller and the CLI (which zip with fflate each in their own way) share it.
 */
export function addEntryPoint(files: Record<string, Uint8Array>, kind: LambdaKind): Record<string, Uint8Array> {
  return addEntry(files, kind, kind === 'python:3' ? PYTHON_ENTRY : NODE_ENTRY, kind === 'python:3' ? PYTHON_SOURCE : NODE_SOURCE);
}

/** Files with an entry point `entry` added; for Node.js, package.json's `main` pointed at it. */
export function addEntry(files: Record<string, Uint8Array>, kind: LambdaKind, entry: string, source: string): Record<string, Uint8Array> {
  if (files[entry]) throw new EntryPointError(`The zip has a file named ${entry}, the name of the entry point this endpoint adds.`);
  const out = { ...files, [entry]: utf8(source) };
  if (kind === 'nodejs:20') out['package.json'] = utf8(JSON.stringify({ ...packageJson(files['package.json']), main: entry }));
  return out;
}

function packageJson(file: Uint8Array | undefined): Record<string, unknown> {
  if (!file) return {};
  try {
    const pkg = JSON.parse(new TextDecoder().decode(file)) as unknown;
    return pkg && typeof pkg === 'object' && !Array.isArray(pkg) ? (pkg as Record<string, unknown>) : {};
  } catch {
    throw new EntryPointError('The package.json in the zip is not valid JSON.');
  }
}
