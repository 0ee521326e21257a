'use strict';
// protocol/vectors/*.jsonl replayed from Node against a real proxy (one fresh
// proxy and connection per file; matching rules in protocol/vectors/README.md).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { Proxy, REPO } = require('./proxy');

const folder = path.join(REPO, 'protocol', 'vectors');
const files = fs.readdirSync(folder).filter((f) => f.endsWith('.jsonl')).sort();
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const substitute = (text, captures) =>
  Object.entries(captures).reduce((t, [name, value]) => t.split('${' + name + '}').join(value), text);

function mismatch(actual, pattern, captures, where = '$') {
  if (typeof pattern === 'string') {
    if (pattern === '$any') return null;
    if (pattern === '$string') return typeof actual === 'string' ? null : `${where}: expected a string`;
    if (pattern === '$timestamp') return TIMESTAMP.test(actual) ? null : `${where}: expected a timestamp, got ${JSON.stringify(actual)}`;
    if (pattern === '$uuid') return UUID.test(actual) ? null : `${where}: expected a uuid, got ${JSON.stringify(actual)}`;
    if (pattern.startsWith('$capture:')) {
      if (typeof actual !== 'string') return `${where}: expected a string to capture`;
      captures[pattern.slice('$capture:'.length)] = actual;
      return null;
    }
    const expected = substitute(pattern, captures);
    return actual === expected ? null : `${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(pattern)) {
    if (!Array.isArray(actual) || actual.length !== pattern.length) return `${where}: expected ${pattern.length} elements, got ${JSON.stringify(actual)}`;
    for (let i = 0; i < pattern.length; i++) {
      const why = mismatch(actual[i], pattern[i], captures, `${where}[${i}]`);
      if (why) return why;
    }
    return null;
  }
  if (pattern !== null && typeof pattern === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${where}: expected an object, got ${JSON.stringify(actual)}`;
    const a = Object.keys(actual).sort().join(',');
    const p = Object.keys(pattern).sort().join(',');
    if (a !== p) return `${where}: keys ${a} != ${p}`;
    for (const key of Object.keys(pattern)) {
      const why = mismatch(actual[key], pattern[key], captures, `${where}.${key}`);
      if (why) return why;
    }
    return null;
  }
  return actual === pattern ? null : `${where}: expected ${JSON.stringify(pattern)}, got ${JSON.stringify(actual)}`;
}

/** Reads answer lines from a socket, one at a time. */
function lineReader(socket) {
  let buffered = '';
  const waiting = [];
  const lines = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    buffered += chunk;
    let n;
    while ((n = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, n));
      buffered = buffered.slice(n + 1);
    }
    while (waiting.length && lines.length) waiting.shift()(lines.shift());
  });
  return () => new Promise((resolve) => (lines.length ? resolve(lines.shift()) : waiting.push(resolve)));
}

test('there are vectors', () => assert.ok(files.length >= 5));

for (const file of files) {
  test(`vectors/${file}`, async () => {
    const proxy = await new Proxy('personal').start();
    const socket = net.connect(proxy.socketPath);
    try {
      await new Promise((r) => socket.once('connect', r));
      const next = lineReader(socket);
      const captures = {};
      const steps = fs.readFileSync(path.join(folder, file), 'utf8').split('\n').filter((l) => l.trim());
      for (const [i, text] of steps.entries()) {
        const step = JSON.parse(text);
        socket.write(substitute(step.send, captures) + '\n');
        // The answer and the events the line causes, in whichever order they come.
        const events = step.events || [];
        let answer = null;
        const got = [];
        while ((step.expect !== null && answer === null) || got.length < events.length) {
          const message = JSON.parse(await next());
          if (message.method === 'event' && !('id' in message)) got.push(message);
          else answer = message;
        }
        if (step.expect !== null) {
          const why = mismatch(answer, step.expect, captures);
          assert.equal(why, null, `${file} line ${i + 1}: ${why}`);
        }
        for (const [k, event] of got.entries()) {
          const why = mismatch(event, events[k], captures);
          assert.equal(why, null, `${file} line ${i + 1} event: ${why}`);
        }
      }
    } finally {
      socket.destroy();
      await proxy.stop();
    }
  });
}
