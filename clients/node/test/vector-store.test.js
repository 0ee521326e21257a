'use strict';
// The vector store through the Node client on both editions: exact results
// against a brute-force reference, filters, hybrid, transactions.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Proxy, EDITIONS, enterpriseAvailable } = require('./proxy');
const { StorageProxyClient, InvalidParams } = require('..');

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

for (const edition of EDITIONS) {
  describe(`${edition} edition: vector store`, { skip: edition === 'enterprise' && !enterpriseAvailable() && 'no test PostgreSQL/Redis: run scripts/test' }, () => {
    let proxy;
    let client;
    before(async () => {
      proxy = await new Proxy(edition).start();
      client = new StorageProxyClient(proxy.address);
    });
    after(async () => {
      await client.close();
      await proxy.stop();
    });

    test('exact cosine nearest neighbours equal a brute-force reference; Float32Array embeddings', async () => {
      const next = random(11);
      const vectors = Array.from({ length: 500 }, () => Float32Array.from({ length: 32 }, next));
      await client.createCollection('exact', 32, 'cosine');
      const ids = await client.addDocuments(vectors.map((_, i) => `doc ${i}`), null, vectors,
        { ids: vectors.map((_, i) => `v${i}`), collection: 'exact' });
      assert.equal(ids.length, 500);
      const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      for (let q = 0; q < 5; q++) {
        const query = Float32Array.from({ length: 32 }, next);
        const reference = vectors.map((v, i) => ({ id: `v${i}`, score: v.reduce((s, x, j) => s + x * query[j], 0) / (norm(v) * norm(query)) }))
          .sort((a, b) => b.score - a.score).slice(0, 10);
        const hits = await client.search(null, { embedding: query, topK: 10, collection: 'exact' });
        assert.deepEqual(hits.map((h) => h.id), reference.map((r) => r.id));
        hits.forEach((h, i) => assert.ok(Math.abs(h.score - reference[i].score) < 1e-4));
      }
    });

    test('seed calls, filters before ranking, hybrid, transactions', async () => {
      await client.addDocuments(['reset your password', 'password rules', 'holiday calendar'],
        [{ src: 'kb' }, { src: 'policy' }, { src: 'kb' }], [[1, 0], [0.9, 0.1], [0, 1]], { ids: ['p1', 'p2', 'h1'] });
      assert.deepEqual((await client.search('password')).map((h) => h.id).sort(), ['p1', 'p2']);
      assert.deepEqual((await client.search('password', { filter: { src: 'policy' } })).map((h) => h.id), ['p2']);
      const fused = await client.search('password rules', { embedding: [1, 0], topK: 3 });
      assert.deepEqual(fused[0].matched, ['keyword', 'vector']);
      await assert.rejects(client.transaction(async (tx) => {
        await tx.addDocuments(['rolled back'], null, [[0, 1]], { ids: ['gone'] });
        throw new Error('abandon');
      }), /abandon/);
      assert.deepEqual((await client.search(null, { embedding: [0, 1], topK: 1 })).map((h) => h.id), ['h1']);
      assert.deepEqual(await client.getDocuments(['h1', 'gone']),
        [{ id: 'h1', document: 'holiday calendar', metadata: { src: 'kb' }, embedding: [0, 1] }, null]);
      await client.transaction((tx) => tx.deleteDocuments(['h1']));
      assert.deepEqual((await client.search('holiday')), []);
      await assert.rejects(client.addDocuments(['x'], null, [[1, 0, 0]]), (e) => e instanceof InvalidParams && e.data.field === 'embeddings[0]');
      // Sent as base64 float32s: a NaN is named by the proxy; a string among the numbers goes as an array, named too.
      await assert.rejects(client.addDocuments(['x'], null, [[1, NaN]]), (e) => e instanceof InvalidParams && e.data.field === 'embeddings[0][1]');
      await assert.rejects(client.addDocuments(['x'], null, [[1, 'a']]), (e) => e instanceof InvalidParams && e.data.field === 'embeddings[0][1]');
      assert.deepEqual((await client.listCollections()).find((c) => c.name === 'default'), { name: 'default', dimension: 2, metric: 'cosine', count: 2 });
      assert.equal(await client.dropCollection('exact'), true);
    });
  });
}
