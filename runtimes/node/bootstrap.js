'use strict';
/**
 * Tributary's Node.js runtime: runs a Lambda handler against the Lambda Runtime API (2018-06-01).
 *
 * Behaves like AWS's own Node.js runtime: handler strings, module resolution (CommonJS and ES
 * modules), async and callback handlers, the `context` object, the error documents and error
 * types, the console log format, and what happens to unhandled rejections and uncaught
 * exceptions. `nodejs24.x` follows the newer AWS runtime: no callback handlers, and a sync
 * handler's return value is the result. Standard library only; started by the host as
 * `node bootstrap.js` with cwd = LAMBDA_TASK_ROOT (the function's code).
 */

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const util = require('node:util');
const { Writable } = require('node:stream');
const { pathToFileURL } = require('node:url');

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
/** Where libraries (and the log lines) find the current request id, as on AWS. */
const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';

/** `nodejs24.x` and later run on AWS's rewritten runtime, which differs in a few visible ways. */
const MODERN = (() => {
  const m = /^AWS_Lambda_nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || '');
  return m !== null && Number(m[1]) >= 24;
})();

const CALLBACK_REMOVED =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with ' +
  'Node.js 24. You need to modify this function to use a supported handler signature to use ' +
  'Node.js 24 or later. For more information see ' +
  'https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

// ---------------------------------------------------------------------------------------------
// errors

/** Errors the runtime reports with a fixed `Runtime.*` type (their `name`). */
function runtimeError(name) {
  const cls = class extends Error {};
  Object.defineProperty(cls, 'name', { value: name });
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}
const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const CallbackHandlerDeprecated = runtimeError('CallbackHandlerDeprecated');
const NodeJsExit = runtimeError('NodeJsExit');
const JSONStringifyError = runtimeError('JSONStringifyError');
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function isErrorLike(e) {
  return (
    e !== null &&
    typeof e === 'object' &&
    typeof e.name === 'string' &&
    typeof e.message === 'string' &&
    typeof e.stack === 'string' &&
    e.name !== '' &&
    e.message !== '' &&
    e.stack !== ''
  );
}

/** The document posted to `/error` and `/init/error`: `{errorType, errorMessage, trace}`. */
function errorDocument(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: String(error.stack).split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** Errors as the log shows them: their own fields plus name, message and the stack as lines. */
function withErrorFields(value) {
  if (!(value instanceof Error)) return value;
  const out = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
  return out;
}

/** `\t{json}`: how the text log format prints an error after its label. */
function formatError(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withErrorFields(v));
  } catch (_) {
    return '\t' + JSON.stringify(errorDocument(error));
  }
}

function intoError(e) {
  return e instanceof Error ? e : new Error(e);
}

// ---------------------------------------------------------------------------------------------
// logging

const LEVELS = {
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
};

function currentRequestId() {
  return globalThis[REQUEST_ID_SYMBOL];
}

function setRequestId(id) {
  globalThis[REQUEST_ID_SYMBOL] = id;
}

/** `<ISO time>\t<request id>\t<LEVEL>\t<util.format(...)>` (the request id is `undefined` during init, as on AWS). */
function textLine(level, params) {
  return `${new Date().toISOString()}\t${currentRequestId()}\t${level.name}\t${util.format(...params)}`;
}

function jsonErrorReplacer(_k, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

/** The `LogFormat: JSON` line: `{"timestamp","level","requestId","message",...}`. */
function jsonLine(level, params) {
  const doc = { timestamp: new Date().toISOString(), level: level.name, requestId: currentRequestId() };
  if (params.length === 1) {
    doc.message = params[0];
    try {
      return JSON.stringify(doc, jsonErrorReplacer);
    } catch (_) {
      doc.message = util.format(doc.message);
      return JSON.stringify(doc);
    }
  }
  doc.message = util.format(...params);
  const err = params.find((p) => p instanceof Error);
  if (err !== undefined) {
    doc.errorType = err?.constructor?.name ?? 'UnknownError';
    doc.errorMessage = err.message;
    doc.stackTrace = typeof err.stack === 'string' ? err.stack.split('\n') : [];
  }
  return JSON.stringify(doc);
}

const JSON_LOGS = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

/** Replaces the console methods with the runtime's levelled writers, honouring AWS_LAMBDA_LOG_LEVEL. */
function patchConsole() {
  const format = JSON_LOGS ? jsonLine : textLine;
  // Pipes are written synchronously on Linux, so a line is in the host's pipe before the
  // answer that follows it is posted.
  const write = (level, params) => process.stdout.write(format(level, params) + '\n');
  const minimum = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
  const writer = (level) =>
    level.priority >= minimum.priority ? (...params) => write(level, params) : () => {};
  console.trace = writer(LEVELS.TRACE);
  console.debug = writer(LEVELS.DEBUG);
  console.info = writer(LEVELS.INFO);
  console.log = console.info;
  console.warn = writer(LEVELS.WARN);
  console.error = writer(LEVELS.ERROR);
  console.fatal = (...params) => write(LEVELS.FATAL, params);
}

/** `Invoke Error`, `Uncaught Exception`, …: one ERROR line with the error as JSON. */
function logError(label, error) {
  if (JSON_LOGS) {
    console.error(intoError(error));
  } else {
    console.error(label, formatError(intoError(error)));
  }
}

// ---------------------------------------------------------------------------------------------
// the Runtime API client

class RuntimeApiClient {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    this.hostname = address.slice(0, colon);
    this.port = Number(address.slice(colon + 1));
    // One kept-alive connection. Node unrefs idle kept-alive sockets, so an idle connection
    // never keeps the event loop alive (callbackWaitsForEmptyEventLoop depends on that).
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** One request; retried once when a reused connection turns out to be closed. */
  request(method, urlPath, body, headers, retried = false) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          method,
          path: urlPath,
          agent: this.agent,
          headers: Object.assign(
            body === undefined ? {} : { 'Content-Length': body.length },
            headers || {},
          ),
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        if (!retried && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          this.request(method, urlPath, body, headers, true).then(resolve, reject);
        } else {
          reject(err);
        }
      });
      req.end(body);
    });
  }

  /** Long-polls for the next event; no timeout, as the API requires. */
  async next() {
    const res = await this.request('GET', `${API_PREFIX}/invocation/next`);
    if (res.status !== 200) {
      throw new Error(
        `Request to Lambda Runtime 'next' endpoint failed. Reason: '${res.status}'. Response body: '${res.body.toString('utf8')}'`,
      );
    }
    return res;
  }

  postResponse(id, body, contentType) {
    return this.request('POST', `${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`, body, {
      'Content-Type': contentType,
    });
  }

  postError(id, error) {
    return this._postError(`${API_PREFIX}/invocation/${encodeURIComponent(id)}/error`, error);
  }

  postInitError(error) {
    return this._postError(`${API_PREFIX}/init/error`, error);
  }

  _postError(urlPath, error) {
    const doc = errorDocument(error);
    return this.request('POST', urlPath, Buffer.from(JSON.stringify(doc), 'utf8'), {
      'Content-Type': 'application/vnd.aws.lambda.error+json',
      [ERROR_TYPE_HEADER]: headerSafe(doc.errorType) || 'Unhandled',
    });
  }
}

/** A header value HTTP can carry (error names are user-controlled). */
function headerSafe(value) {
  return String(value ?? '').replace(/[^\x20-\x7e]/g, '');
}

// ---------------------------------------------------------------------------------------------
// loading the handler

/** `true` when the nearest package.json above `dir` says `"type": "module"`. */
function packageTypeIsModule(dir) {
  for (;;) {
    if (dir.endsWith('/node_modules')) return false;
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8'))?.type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

function requireIfExists(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function importIfExists(file) {
  return fs.existsSync(file) ? import(pathToFileURL(file).href) : undefined;
}

/**
 * Loads the module as AWS does: the extensionless file, then `.js` (CommonJS unless the nearest
 * package.json says `"type": "module"`), `.mjs`, `.cjs`, and finally Node's own resolution from
 * the task root (which also finds `node_modules` packages).
 */
async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  const esm = packageTypeIsModule(path.dirname(base));
  try {
    let loaded = requireIfExists(base);
    if (loaded) return loaded;
    if (!esm) {
      loaded = requireIfExists(base + '.js');
      if (loaded) return loaded;
    }
    loaded =
      (esm && (await importIfExists(base + '.js'))) ||
      (await importIfExists(base + '.mjs')) ||
      requireIfExists(base + '.cjs');
    if (loaded) return loaded;
    return require(require.resolve(moduleName, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] }));
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
}

function findIn(object, dotted) {
  return dotted.split('.').reduce((nested, key) => (nested ? nested[key] : undefined), object);
}

/** `dir/sub/module.export[.nested]` under `appRoot` → the handler function. */
async function loadHandler(appRoot, handlerString) {
  if (handlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(handlerString);
  const moduleRoot = handlerString.slice(0, handlerString.indexOf(moduleAndHandler));
  const m = /^([^.]*)\.(.*)$/.exec(moduleAndHandler);
  if (m === null) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, exportPath] = m;

  const mod = await loadModule(appRoot, moduleRoot, moduleName);
  let handler = findIn(mod, exportPath);
  if (!handler && MODERN && mod && typeof mod === 'object' && 'default' in mod) {
    handler = findIn(mod.default, exportPath);
  }
  if (!handler) throw new HandlerNotFound(`${handlerString} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${handlerString} is not a function`);
  return handler;
}

// ---------------------------------------------------------------------------------------------
// `awslambda.streamifyResponse`: streaming handlers, answered buffered (the Invoke API returns a
// streamed response whole, as AWS does for a plain Invoke of a streaming function)

class HttpResponseStream {
  static from(stream, prelude) {
    stream.setContentType('application/vnd.awslambda.http-integration-response');
    stream.write(JSON.stringify(prelude));
    stream.write(Buffer.alloc(8));
    return stream;
  }
}

const NO_GLOBAL_AWSLAMBDA = ['1', 'true'].includes(process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA);

if (!NO_GLOBAL_AWSLAMBDA) {
  globalThis.awslambda = {
    streamifyResponse(handler, options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') {
        handler[Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark')] = options.highWaterMark;
      }
      return handler;
    },
    HttpResponseStream,
  };
}

function bufferedResponseStream() {
  const chunks = [];
  let contentType = 'application/octet-stream';
  const stream = new Writable({
    write(chunk, encoding, cb) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
      cb();
    },
  });
  stream.setContentType = (value) => {
    contentType = String(value);
  };
  stream.body = () => Buffer.concat(chunks);
  stream.contentType = () => contentType;
  return stream;
}

// ---------------------------------------------------------------------------------------------
// invocations

/** The context fields that come from the environment and from the `/next` headers. */
function invocationData(headers) {
  const parse = (name, label) => {
    const raw = headers[name];
    if (raw === undefined || raw === '') return undefined;
    try {
      return JSON.parse(raw);
    } catch (err) {
      throw new Error(`Cannot parse ${label} as json: ${err.toString()}`);
    }
  };
  const deadline = Number.parseInt(headers['lambda-runtime-deadline-ms'], 10);
  return {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parse('lambda-runtime-client-context', 'ClientContext'),
    identity: parse('lambda-runtime-cognito-identity', 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis() {
      return deadline - Date.now();
    },
  };
}

function forwardTraceId(headers) {
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;
}

function isPromise(value) {
  return value !== null && value !== undefined && typeof value.then === 'function';
}

/** The `beforeExit` hook: what to do when the event loop runs dry during an invocation. */
const beforeExit = {
  listener: null,
  set(fn) {
    this.listener = fn;
  },
  reset() {
    this.listener = null;
  },
  fire() {
    const fn = beforeExit.listener;
    beforeExit.listener = null;
    if (fn) fn();
  },
};

class Runtime {
  constructor(client, handler) {
    this.client = client;
    this.handler = handler;
    this.streaming = handler[HANDLER_STREAMING] === STREAM_RESPONSE;
    this.isAsync = handler.constructor?.name === 'AsyncFunction';
    /** Where errors nobody caught go: the invocation in progress, or init before the first. */
    this.currentInvocation = null;
  }

  /** An uncaught exception or unhandled rejection: report it, then exit as AWS's runtime does. */
  fatal(error, exitCode) {
    const report =
      this.currentInvocation === null
        ? this.client.postInitError(error)
        : this.client.postError(this.currentInvocation, error);
    report.then(
      () => process.exit(exitCode),
      () => process.exit(exitCode),
    );
  }

  schedule() {
    setImmediate(() => {
      this.once().catch((err) => {
        console.log(`Unexpected Top Level Error: ${err.toString()}`);
        this.fatal(err, 129);
      });
    });
  }

  async once() {
    let next;
    try {
      next = await this.client.next();
    } catch (err) {
      // 500 or a lost connection: the environment is going away.
      process.stderr.write(`${err.message || err}\n`);
      process.exit(1);
    }
    const headers = next.headers;
    const id = headers['lambda-runtime-aws-request-id'];
    setRequestId(id);
    this.currentInvocation = id;
    forwardTraceId(headers);
    if (MODERN || this.streaming) {
      await this.invokeAwaited(id, headers, next.body);
    } else {
      this.invokeClassic(id, headers, next.body);
    }
  }

  /** Posts a result; a result JSON cannot carry becomes the error it raises. */
  respond(id, result, then) {
    let body;
    try {
      body = Buffer.from(JSON.stringify(result === undefined ? null : result), 'utf8');
    } catch (_) {
      const err = MODERN ? new JSONStringifyError('Unable to stringify response body') : new Error('Unable to stringify response body');
      this.fail(id, err, then);
      return;
    }
    this.client.postResponse(id, body, 'application/json').then(then, then);
  }

  fail(id, err, then) {
    logError('Invoke Error', err);
    this.client.postError(id, err).then(then, then);
  }

  /**
   * nodejs18.x–22.x: the handler gets `(event, context, callback)`. A promise settles the
   * invocation at once; `callback` waits for the event loop to drain unless
   * `context.callbackWaitsForEmptyEventLoop` is false; a sync handler that never calls back
   * answers `null` when the loop drains.
   */
  invokeClassic(id, headers, body) {
    const next = () => this.schedule();
    let completed = false;
    const complete = (result) => {
      if (completed) {
        console.error(
          'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
        );
        return;
      }
      completed = true;
      this.respond(id, result, next);
    };
    let waitForEmptyEventLoop = true;
    const rawCallback = (err, result) => {
      beforeExit.reset();
      if (err !== undefined && err !== null) {
        this.fail(id, err, next);
      } else if (!waitForEmptyEventLoop) {
        complete(result);
      } else {
        beforeExit.set(() => setImmediate(() => complete(result)));
      }
    };
    const done = (err, result) => {
      beforeExit.reset();
      if (err !== undefined && err !== null) this.fail(id, err, next);
      else complete(result);
    };
    // Only the first of callback/done/succeed/fail counts.
    let finished = false;
    const once = (fn) =>
      function (...args) {
        if (!finished) {
          fn(...args);
          finished = true;
        }
      };
    const callback = once(rawCallback);
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: once((result) => done(null, result)),
      fail: once((err) => done(err === undefined || err === null ? 'handled' : err, null)),
      done: once(done),
    };

    try {
      Object.assign(context, invocationData(headers));
      beforeExit.set(() => {
        completed = true;
        if (this.isAsync) {
          const err = new NodeJsExit('Runtime exited without providing a reason');
          logError('Invoke Error', err);
          this.client.postError(id, err).then(next, next);
        } else {
          this.client.postResponse(id, Buffer.from('null'), 'application/json').then(next, next);
        }
      });
      const result = this.handler(JSON.parse(body.toString('utf8')), context, callback);
      if (isPromise(result)) {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  /** nodejs24.x (and streaming handlers): the handler's awaited result is the answer. */
  async invokeAwaited(id, headers, body) {
    const settled = await new Promise((resolve) => {
      (async () => {
        const context = invocationData(headers);
        if (MODERN) context.xRayTraceId = headers['lambda-runtime-trace-id'];
        const event = JSON.parse(body.toString('utf8'));
        if (this.streaming) {
          const stream = bufferedResponseStream();
          const finished = new Promise((res, rej) => {
            stream.on('finish', res);
            stream.on('error', rej);
          });
          finished.catch(() => {}); // awaited below only when the handler returns before ending
          const returned = this.handler(event, stream, context);
          if (!isPromise(returned)) throw new Error('Streaming does not support non-async handlers.');
          await returned;
          if (!stream.writableFinished) {
            if (!stream.writableEnded) throw new Error('Response stream is not finished.');
            await finished;
          }
          return { stream };
        }
        return { result: await this.handler(event, context) };
      })().then(
        (ok) => resolve({ ok }),
        (err) => resolve({ err }),
      );
      // A handler that leaves nothing to run and never settles: the loop drains.
      beforeExit.set(() => resolve({ err: new NodeJsExit('Runtime exited without providing a reason') }));
    });
    beforeExit.reset();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => {
      if (settled.err !== undefined) {
        this.fail(id, settled.err, resolve);
      } else if (settled.ok.stream) {
        const s = settled.ok.stream;
        this.client.postResponse(id, s.body(), s.contentType()).then(resolve, resolve);
      } else {
        this.respond(id, settled.ok.result, resolve);
      }
    });
    this.schedule();
  }
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  patchConsole();
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    process.stderr.write('AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(1);
  }
  const client = new RuntimeApiClient(address);
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let runtime = null;

  // Until the first invocation these report an init error; afterwards, an invocation error.
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    if (runtime !== null) runtime.fatal(error, 129);
    else client.postInitError(error).then(() => process.exit(129), () => process.exit(129));
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    if (runtime !== null) runtime.fatal(error, 128);
    else client.postInitError(error).then(() => process.exit(128), () => process.exit(128));
  });
  process.on('beforeExit', () => beforeExit.fire());

  let handler;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER || '');
    if (MODERN && handler.length >= 3 && handler[HANDLER_STREAMING] !== STREAM_RESPONSE) {
      throw new CallbackHandlerDeprecated(CALLBACK_REMOVED);
    }
  } catch (error) {
    logError(MODERN ? 'Init Error' : 'Uncaught Exception', error);
    const exit = () => process.exit(129);
    client.postInitError(error).then(exit, exit);
    return;
  }
  runtime = new Runtime(client, handler);
  runtime.schedule();
}

main();
