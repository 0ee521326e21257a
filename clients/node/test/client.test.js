'use strict';
// The Node client against a real proxy: every method, errors, pipelining,
// reconnects, transactions.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Proxy, EDITIONS, enterpriseAvailable, freePort } = require('./proxy');
const {
  StorageProxyClient, StorageProxyError, RetryableError, ProxyConnectionError, errorFromWire,
  InvalidParams, NotFound, MethodNotFound, TransactionError, Unauthorized, BackendUnavailable, Conflict,
} = require('..');

const task = (id, extra = {}) => ({
  id, agent_name: 'news', task_prompt: 'Summarise', schedule_type: 'cron', schedule_value: '0 9 * * *', ...extra,
});

for (const edition of EDITIONS) {
  describe(`${edition} edition`, { skip: edition === 'enterprise' && !enterpriseAvailable() && 'no test PostgreSQL/Redis: run scripts/test' }, () => {
    let proxy;
    let client;
    before(async () => {
      proxy = await new Proxy(edition).start();
      client = new StorageProxyClient(proxy.address);
      await client.connect();
    });
    after(async () => {
      await client.close();
      await proxy.stop();
    });

    test('every storage method', async () => {
      assert.equal(await client.healthCheck(), true);
      assert.equal(await client.saveTask(task('t1', { next_run: new Date('2026-11-25T09:00:00Z'), owner: 'ops' })), 't1');
      const made = await client.saveTask({ agent_name: 'mail', task_prompt: 'p', schedule_type: 'cron', schedule_value: '* * * * *' });
      assert.equal(made.length, 36);
      const got = await client.getTask('t1');
      assert.equal(got.next_run, '2026-11-25T09:00:00.000000Z');
      assert.equal(got.owner, 'ops');
      assert.equal(got.status, 'pending');
      assert.equal(await client.getTask('missing'), null);
      assert.deepEqual((await client.listTasks({ agentName: 'news' })).map((t) => t.id), ['t1']);
      assert.equal((await client.listTasks()).length, 2);
      assert.equal((await client.listTasks({ limit: 1, offset: 1 })).length, 1);

      assert.equal(await client.updateTaskStatus('t1', 'running', { lastRun: '2026-11-25T09:00:05Z' }), true);
      assert.equal(await client.updateTaskStatus('missing', 'running'), false);
      assert.deepEqual((await client.listTasks({ status: 'running' })).map((t) => t.id), ['t1']);
      assert.equal((await client.getTask('t1')).last_run, '2026-11-25T09:00:05.000000Z');

      const first = await client.saveLog('t1', 'info', 'started', { step: 1 });
      await client.saveLog('t1', 'ERROR', 'failed');
      const logs = await client.queryLogs({ taskId: 't1' });
      assert.deepEqual(logs.map((l) => l.message), ['failed', 'started']);
      assert.equal(logs[1].id, first);
      assert.equal(logs[1].level, 'INFO');
      assert.deepEqual(logs[1].metadata, { step: 1 });
      assert.deepEqual((await client.queryLogs({ level: 'ERROR' })).map((l) => l.message), ['failed']);
      assert.equal((await client.queryLogs({ startTime: logs[1].created_at, limit: 1 })).length, 1);
      assert.equal(await client.deleteOldLogs('2020-01-01T00:00:00Z'), 0);
      assert.equal(await client.deleteOldLogs(new Date(Date.now() + 60000)), 2);

      assert.equal(await client.saveMetadata('schema', { v: 3 }), null);
      assert.deepEqual(await client.getMetadata('schema'), { v: 3 });
      await client.saveMetadata('schema/b', 1);
      assert.deepEqual(await client.listMetadata('schema'), ['schema', 'schema/b']);
      assert.deepEqual(await client.listMetadata('schema', { after: 'schema', limit: 1 }), ['schema/b']);
      assert.equal(await client.deleteMetadata('schema/b'), true);
      assert.equal(await client.deleteMetadata('schema/b'), false);
      assert.deepEqual(await client.listMetadata(), ['schema']);
      assert.equal(await client.deleteTask('t1'), true);
      assert.equal(await client.deleteTask('t1'), false);
    });

    test('claims and leases: claim, renew, complete; only the holder', async () => {
      await client.saveTask(task('job', { schedule_type: 'once', schedule_value: '2026-01-01T00:00:00Z' }));
      const [claimed] = await client.claimDueTasks('w1', { leaseSeconds: 30, now: '2026-06-01T00:00:00Z' });
      assert.equal(claimed.id, 'job');
      assert.equal(claimed.lease_owner, 'w1');
      assert.equal(claimed.attempts, 1);
      assert.deepEqual(await client.claimDueTasks('w2', { now: '2026-06-01T00:00:10Z' }), []);
      const renewed = await client.renewLease('job', 'w1', 30, { now: '2026-06-01T00:00:20Z' });
      assert.equal(renewed.lease_owner, 'w1');
      assert.equal(renewed.lease_until, '2026-06-01T00:00:50.000000Z');  // 30 s after the caller's now
      await assert.rejects(client.completeTask('job', 'w2', 'completed'),
        (e) => e instanceof Conflict && e.data.owner === 'w1');
      const done = await client.completeTask('job', 'w1', 'completed', { result: { ok: true }, now: '2026-06-01T00:01:00Z' });
      assert.equal(done.status, 'completed');
      assert.equal(done.updated_at, '2026-06-01T00:01:00.000000Z');
      assert.deepEqual(done.last_result, { ok: true });
      assert.deepEqual(await client.nextRuns('cron', '0 9 * * *', { after: '2026-01-01T00:00:00Z', count: 2 }),
        ['2026-01-01T09:00:00.000000Z', '2026-01-02T09:00:00.000000Z']);
    });

    test('claims within an agent\'s running limit (maxRunning)', async () => {
      for (const id of ['m1', 'm2', 'm3']) {
        await client.saveTask(task(id, { agent_name: 'limited', schedule_type: 'once', schedule_value: '2026-01-01T00:00:00Z' }));
      }
      const options = { agentName: 'limited', limit: 3, maxRunning: 2, now: '2026-06-01T00:00:00Z' };
      assert.deepEqual((await client.claimDueTasks('w1', options)).map((t) => t.id), ['m1', 'm2']);
      assert.deepEqual(await client.claimDueTasks('w2', options), []);
      await client.completeTask('m1', 'w1', 'completed', { nextRun: null, now: '2026-06-01T00:00:01Z' });
      assert.deepEqual((await client.claimDueTasks('w2', options)).map((t) => t.id), ['m3']);
      assert.equal(await client.countTasks({ agentName: 'limited', leasedAt: '2026-06-01T00:00:01Z' }), 2);
      assert.equal(await client.countTasks({ agentName: 'limited', status: 'completed' }), 1);
      assert.deepEqual(await client.countTasks({ agentName: 'limited', groupBy: 'status' }), { running: 2, completed: 1 });
      await client.saveTask(task('p0', { agent_name: 'limited:x', schedule_type: 'once', schedule_value: '2026-01-01T00:00:00Z' }));
      assert.deepEqual((await client.claimDueTasks('w3', { agentPrefix: 'limited:' })).map((t) => t.id), ['p0']);
      await assert.rejects(client.claimDueTasks('w3', { maxRunning: 2 }), (e) => e.code === -32602 && /max_running/.test(e.message));
    });

    test('cache methods', async () => {
      assert.equal(await client.cacheSet('response:1', { text: 'hi' }), true);
      assert.deepEqual(await client.cacheGet('response:1'), { text: 'hi' });
      assert.equal(await client.cacheExists('response:1'), true);
      await client.cacheSet('response:2', null, 0.2);
      assert.equal(await client.cacheExists('response:2'), true);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await client.cacheExists('response:2'), false);
      await client.cacheSet('other', 1);
      await client.cacheSet('response:3', 3);
      assert.equal(await client.cacheClearPattern('response:*'), 2);
      assert.equal(await client.cacheDelete('other'), true);
      assert.equal(await client.cacheDelete('other'), false);
    });

    test('1,000 concurrent calls share one connection, answered in order', async () => {
      await client.saveTask(task('p'));
      const accepted = (await client.call('server.status')).connections.accepted;
      const calls = [];
      for (let i = 0; i < 500; i++) calls.push(client.saveLog('p', 'INFO', `line ${i}`), client.getTask('p'));
      const results = await Promise.all(calls);
      assert.equal(new Set(results.filter((_, i) => i % 2 === 0)).size, 500);
      assert.ok(results.filter((_, i) => i % 2 === 1).every((t) => t.id === 'p'));
      assert.equal((await client.queryLogs({ taskId: 'p', limit: 1000 })).length, 500);
      const status = await client.call('server.status');
      assert.equal(status.connections.accepted, accepted);
    });

    test('subscribe: for await sees each change in commit order; filters; unsubscribe frees it', async () => {
      const watcher = new StorageProxyClient(proxy.address);
      const events = await watcher.subscribe({ topics: ['tasks', 'logs'], taskId: 'ev' }).start();
      assert.equal(await events.next(100), null, 'nothing yet');
      await client.saveTask(task('ev'));
      await client.saveTask(task('not-this-one'));
      await client.updateTaskStatus('ev', 'running');
      await client.saveLog('ev', 'INFO', 'working');
      await client.deleteTask('ev');
      const seen = [];
      for await (const e of events) {
        seen.push(`${e.op}:${e.task ? e.task.status : e.log.message}`);
        if (e.op === 'deleted') break;  // ends the loop: unsubscribes
      }
      assert.deepEqual(seen, ['created:pending', 'updated:running', 'created:working', 'deleted:running']);
      assert.equal((await client.call('server.status')).events.subscriptions, 0);
      await watcher.close();
    });

    test('transaction(): commit on success, rollback on a throw', async () => {
      await client.transaction(async (tx) => {
        await tx.saveTask(task('a'));
        await tx.saveLog('a', 'INFO', 'inside');
        assert.equal((await tx.getTask('a')).id, 'a');
      });
      assert.equal((await client.getTask('a')).id, 'a');
      await assert.rejects(client.transaction(async (tx) => {
        await tx.saveTask(task('b'));
        await tx.updateTaskStatus('a', 'cancelled');
        throw new Error('boom');
      }), /boom/);
      assert.equal(await client.getTask('b'), null);
      assert.equal((await client.getTask('a')).status, 'pending');
    });
  });
}

describe('errors', () => {
  let proxy;
  let client;
  before(async () => {
    proxy = await new Proxy('personal').start();
    client = new StorageProxyClient(proxy.address);
  });
  after(async () => {
    await client.close();
    await proxy.stop();
  });

  test('server errors become classes carrying code, message and data', async () => {
    await assert.rejects(client.saveTask({ id: 't' }), (e) => e instanceof InvalidParams && e.code === -32602 &&
      e.data.field === 'task.agent_name');
    await assert.rejects(client.saveLog('missing', 'INFO', 'x'), (e) => e instanceof NotFound && e.code === -32001 &&
      e.message.includes('missing'));
    await assert.rejects(client.commitTransaction('nope'), TransactionError);
    await assert.rejects(client.call('no.such.method'), (e) => e instanceof MethodNotFound && e.data.method === 'no.such.method');
    await assert.rejects(client.search('hello', { collection: 'none' }), (e) => e instanceof InvalidParams && e.data.field === 'collection');
    assert.equal(await client.healthCheck(), true);
  });

  test('retryable codes share RetryableError', () => {
    const e = errorFromWire({ code: -32003, message: 'busy', data: { retry_after_ms: 250, retryable: true } });
    assert.ok(e instanceof BackendUnavailable && e instanceof RetryableError && e instanceof StorageProxyError);
    assert.equal(e.retryAfterMs, 250);
    for (const code of [-32006, -32008]) assert.ok(errorFromWire({ code, message: 'm' }) instanceof RetryableError);
    for (const code of [-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32004, -32005, -32007]) {
      const other = errorFromWire({ code, message: 'm' });
      assert.equal(other.code, code);
      assert.ok(!(other instanceof RetryableError));
    }
  });

  test('a subscription survives a proxy restart, and says lagged', async () => {
    const proxy = await new Proxy('personal').start();
    const watcher = new StorageProxyClient(proxy.address, { connectTimeoutMs: 15000 });
    const events = await watcher.subscribe({ topics: ['tasks'] }).start();
    await proxy.stop();
    await proxy.start();
    const lagged = await events.next(10000);
    assert.equal(lagged.op, 'lagged');
    assert.match(lagged.reason, /lost/);
    const writer = new StorageProxyClient(proxy.address);
    await writer.saveTask(task('after'));
    assert.equal((await events.next(10000)).task.id, 'after');
    await events.close();
    await writer.close();
    await watcher.close();
    await proxy.stop();
  });

  test('reconnects after the proxy restarts', async () => {
    const c = new StorageProxyClient(proxy.address, { connectTimeoutMs: 15000 });
    await c.saveTask(task('kept'));
    await proxy.stop();
    setTimeout(() => proxy.start(), 500);
    assert.ok(await c.saveLog('kept', 'INFO', 'after the restart'));  // waits for the proxy to come back
    assert.deepEqual((await c.queryLogs({ taskId: 'kept' })).map((l) => l.message), ['after the restart']);
    await c.close();

    await proxy.stop();
    const impatient = new StorageProxyClient(proxy.address, { connectTimeoutMs: 300 });
    await assert.rejects(impatient.healthCheck(), (e) => e instanceof ProxyConnectionError && /cannot connect/.test(e.message));
    await proxy.start();
  });

  test('TLS: the proxy certificate is checked against the authority named in the address', async () => {
    const port = await freePort();
    const secured = await new Proxy('personal', { token: 'tls-token', tcpPort: port, tls: true }).start();
    try {
      const ok = new StorageProxyClient(secured.tlsAddress, { token: 'tls-token' });
      await ok.saveTask({ id: 'tls-1', agent_name: 'a', task_prompt: 'p', schedule_type: 'cron', schedule_value: '0 7 * * *' });
      assert.equal((await ok.getTask('tls-1')).id, 'tls-1');
      await ok.close();
      const stranger = new StorageProxyClient(`tls://127.0.0.1:${port}`, { token: 'tls-token', connectTimeoutMs: 300 });
      await assert.rejects(stranger.healthCheck(), (e) => e instanceof ProxyConnectionError && /certificate/.test(e.message));
      assert.throws(() => new StorageProxyClient(`tls://127.0.0.1:${port}?cafile=x`), /unknown option cafile/);
    } finally {
      await secured.stop();
    }
  });

  test('auth token over TCP', async () => {
    const port = await freePort();
    const guarded = await new Proxy('personal', { token: 's3cret-token', tcpPort: port }).start();
    try {
      const ok = new StorageProxyClient(`tcp://127.0.0.1:${port}`, { token: 's3cret-token' });
      assert.equal(await ok.healthCheck(), true);
      await ok.close();
      await assert.rejects(new StorageProxyClient(`tcp://127.0.0.1:${port}`, { token: 'wrong' }).connect(), Unauthorized);
      const anonymous = new StorageProxyClient(`tcp://127.0.0.1:${port}`);
      await assert.rejects(anonymous.healthCheck(), Unauthorized);
      await anonymous.close();
    } finally {
      await guarded.stop();
    }
  });
});

test('the README snippet runs as written (CommonJS, address from the environment)', async () => {
  const { execFileSync } = require('node:child_process');
  const fs = require('node:fs');
  const path = require('node:path');
  const { REPO } = require('./proxy');
  const readme = fs.readFileSync(path.join(REPO, 'clients', 'node', 'README.md'), 'utf8');
  const snippet = /```js\n([\s\S]*?)```/.exec(readme)[1];
  const proxy = await new Proxy('personal').start();
  try {
    // Run from the repository root, where `require('./clients/node')` points at this client.
    const out = execFileSync(process.execPath, ['-e', snippet], { cwd: REPO, env: { ...process.env, STORAGE_PROXY_ADDRESS: proxy.address } });
    const [id, logCount] = out.toString().trim().split(' ');
    assert.equal(logCount, '0');
    const client = new StorageProxyClient(proxy.address);
    assert.equal((await client.getTask(id)).status, 'running');
    await client.close();
  } finally {
    await proxy.stop();
  }
});

test('a first connect to a proxy that is not there fails at once', async () => {
  const os = require('node:os');
  const path = require('node:path');
  const started = Date.now();
  const nobody = new StorageProxyClient(`unix://${path.join(os.tmpdir(), `nobody-${process.pid}.sock`)}`, { connectTimeoutMs: 30000 });
  await assert.rejects(nobody.healthCheck(), (e) => e instanceof ProxyConnectionError && /cannot connect/.test(e.message));
  assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
});
