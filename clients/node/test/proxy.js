'use strict';
// A real `storage-proxy serve` per test, on each edition the environment offers
// (scripts/test starts a throwaway PostgreSQL and Redis; without them the
// Enterprise cases are reported as skipped, never as passed).

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const crypto = require('crypto');

const REPO = path.resolve(__dirname, '..', '..', '..');
const BINARY = process.env.STORAGE_PROXY_BIN || path.join(REPO, '.build', 'debug', 'storage-proxy');
const EDITIONS = ['personal', 'enterprise'];

function enterpriseAvailable() {
  return Boolean(process.env.STORAGE_PROXY_TEST_POSTGRES && process.env.STORAGE_PROXY_TEST_REDIS);
}

function enterpriseConfig() {
  const server = process.env.STORAGE_PROXY_TEST_POSTGRES;
  const name = 'node_' + crypto.randomBytes(6).toString('hex');
  const psql = path.join(process.env.STORAGE_PROXY_TEST_POSTGRES_BIN || '/usr/bin', 'psql');
  execFileSync(psql, ['-q', '-d', server, '-c', `CREATE DATABASE ${name}`], { stdio: 'ignore' });
  const url = server.slice(0, server.lastIndexOf('/')) + '/' + name;
  return `storage:\n  type: postgresql\n  postgresql:\n    url: "${url}"\n` +
    `  cache:\n    type: redis\n    redis:\n      url: "${process.env.STORAGE_PROXY_TEST_REDIS}"\n      key_prefix: "${name}:"\n`;
}

/** An authority (`ca.pem`) and a server certificate for 127.0.0.1 and localhost it signed. */
function makeCertificates(folder) {
  execFileSync(path.join(REPO, 'scripts', 'make-test-certificates'), [folder, 'node test'], { stdio: 'ignore' });
}

class Proxy {
  /** `tls`: certificates made for the test, TLS on `tcpPort`; `tlsAddress` names the authority. */
  constructor(edition = 'personal', { token, tcpPort, tls } = {}) {
    this.edition = edition;
    this.folder = fs.mkdtempSync(path.join(os.tmpdir(), 'nodeproxy-'));
    fs.mkdirSync(path.join(this.folder, 'storage'));
    this.socketPath = path.join(this.folder, 'storage', 'proxy.sock');
    this.address = 'unix://' + this.socketPath;
    this.tcpPort = tcpPort;
    let config = edition === 'enterprise' ? enterpriseConfig() : '';
    if (token || tls) config += 'server:\n';
    if (token) config += `  auth_token: "${token}"\n`;
    if (tls) {
      makeCertificates(this.folder);
      config += `  tls:\n    cert: ${this.folder}/server.pem\n    key: ${this.folder}/server.key\n`;
      this.tlsAddress = `tls://127.0.0.1:${tcpPort}?ca=${this.folder}/ca.pem`;
    }
    this.config = path.join(this.folder, 'proxy.yaml');
    fs.writeFileSync(this.config, config);
  }

  async start() {
    const args = ['serve', '--config', this.config, '--socket', this.socketPath];
    if (this.edition === 'personal') args.push('--database', path.join(this.folder, 'storage', 'data.db'));
    if (this.tcpPort) args.push('--listen', `127.0.0.1:${this.tcpPort}`);
    const log = fs.openSync(path.join(this.folder, 'proxy.log'), 'a');
    this.process = spawn(BINARY, args, { cwd: this.folder, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) throw new Error('proxy exited at start: ' + this.logText());
      if (await canConnect(this.socketPath)) return this;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('proxy did not start: ' + this.logText());
  }

  logText() { return fs.readFileSync(path.join(this.folder, 'proxy.log'), 'utf8'); }

  async stop() {
    const p = this.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
}

function canConnect(socketPath) {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

module.exports = { Proxy, EDITIONS, REPO, enterpriseAvailable, freePort };
