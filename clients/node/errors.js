'use strict';
// One class per JSON-RPC code of protocol/PROTOCOL.md. Every error carries the
// server's `code`, `message` and `data`; the retryable ones extend RetryableError.

class StorageProxyError extends Error {
  constructor(message, code = null, data = undefined) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }
}

class RetryableError extends StorageProxyError {
  /** The server's hint in milliseconds, if any. */
  get retryAfterMs() {
    return this.data && typeof this.data.retry_after_ms === 'number' ? this.data.retry_after_ms : null;
  }
}

/** The connection failed or was lost; a call in flight may or may not have run. */
class ProxyConnectionError extends StorageProxyError {}

const byCode = {};
const define = (name, code, base = StorageProxyError) => {
  const cls = { [name]: class extends base {} }[name];
  byCode[code] = cls;
  return cls;
};

const classes = {
  ParseError: define('ParseError', -32700),
  InvalidRequest: define('InvalidRequest', -32600),
  MethodNotFound: define('MethodNotFound', -32601),
  InvalidParams: define('InvalidParams', -32602),
  InternalError: define('InternalError', -32603),
  NotFound: define('NotFound', -32001),
  Conflict: define('Conflict', -32002),
  BackendUnavailable: define('BackendUnavailable', -32003, RetryableError),
  TransactionError: define('TransactionError', -32004),
  RequestTooLarge: define('RequestTooLarge', -32005),
  Overloaded: define('Overloaded', -32006, RetryableError),
  Unauthorized: define('Unauthorized', -32007),
  Timeout: define('Timeout', -32008, RetryableError),
};

/** The error for a JSON-RPC `error` member. */
function errorFromWire(error) {
  const code = Number.isInteger(error.code) ? error.code : null;
  let cls = byCode[code];
  if (!cls) cls = error.data && error.data.retryable ? RetryableError : StorageProxyError;
  return new cls(String(error.message ?? 'unknown error'), code, error.data);
}

module.exports = { StorageProxyError, RetryableError, ProxyConnectionError, errorFromWire, ...classes };
