"""A real proxy process per test (no mocks), on each edition the environment offers.

``scripts/test`` builds the proxy and starts a throwaway PostgreSQL and Redis
(``STORAGE_PROXY_TEST_POSTGRES``, ``STORAGE_PROXY_TEST_REDIS``); without them the
Enterprise cases are reported as skipped, never as passed.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BINARY = os.environ.get("STORAGE_PROXY_BIN", str(REPO / ".build" / "debug" / "storage-proxy"))
EDITIONS = ["personal", "enterprise"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def enterprise_config(folder: Path) -> str:
    """PostgreSQL (a database of its own) with Redis in front (a key prefix of its own)."""
    server = os.environ.get("STORAGE_PROXY_TEST_POSTGRES")
    redis = os.environ.get("STORAGE_PROXY_TEST_REDIS")
    if not server or not redis:
        pytest.skip("no test PostgreSQL/Redis: run through scripts/test, which starts them")
    name = "py_" + uuid.uuid4().hex[:12]
    psql = os.path.join(os.environ.get("STORAGE_PROXY_TEST_POSTGRES_BIN", "/usr/bin"), "psql")
    subprocess.run([psql, "-q", "-d", server, "-c", f"CREATE DATABASE {name}"], check=True,
                   stdout=subprocess.DEVNULL)
    return (f"storage:\n  type: postgresql\n  postgresql:\n    url: \"{server.rsplit('/', 1)[0]}/{name}\"\n"
            f"  cache:\n    type: redis\n    redis:\n      url: \"{redis}\"\n      key_prefix: \"{name}:\"\n")


def make_certificates(folder: Path) -> None:
    """An authority (``ca.pem``) and a server certificate for 127.0.0.1 and localhost it signed."""
    subprocess.run([str(REPO / "scripts" / "make-test-certificates"), str(folder), "python test"], check=True)


class Proxy:
    """``storage-proxy serve`` in a temporary folder: ``storage/proxy.sock`` there, and TCP when asked
    (with TLS, ``tls=True``: certificates made for the test, ``tls_address`` names the authority)."""

    def __init__(self, edition: str = "personal", tcp: bool = False, token: str = "", same_store_as: "Proxy" = None,
                 tls: bool = False, http: bool = False):
        self.folder = Path(tempfile.mkdtemp(prefix="pyproxy-"))
        (self.folder / "storage").mkdir()
        self.edition = edition
        self.socket_path = str(self.folder / "storage" / "proxy.sock")
        self.address = "unix://" + self.socket_path
        self.port = free_port() if tcp or tls else None
        if same_store_as is not None:
            config = same_store_as.config.read_text()  # another proxy on the same database and cache
        else:
            config = enterprise_config(self.folder) if edition == "enterprise" else ""
        if token or tls or http:
            config += "server:\n"
        if token:
            config += f"  auth_token: \"{token}\"\n"
        # server.http_listen (probes, metrics, POST /, the console): self.http_url
        http_port = free_port() if http else None
        self.http_url = f"{'https' if tls else 'http'}://127.0.0.1:{http_port}" if http else None
        if http:
            config += f"  http_listen: \"127.0.0.1:{http_port}\"\n"
        if tls:
            make_certificates(self.folder)
            config += f"  tls:\n    cert: {self.folder}/server.pem\n    key: {self.folder}/server.key\n"
            self.ca = str(self.folder / "ca.pem")
        self.config = self.folder / "proxy.yaml"
        self.config.write_text(config)
        self.process = None
        self.start()

    @property
    def tcp_address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def tls_address(self) -> str:
        return f"tls://127.0.0.1:{self.port}?ca={self.ca}"

    def start(self) -> None:
        args = [BINARY, "serve", "--config", str(self.config), "--socket", self.socket_path]
        if self.edition == "personal":
            args += ["--database", str(self.folder / "storage" / "data.db")]
        if self.port:
            args += ["--listen", f"127.0.0.1:{self.port}"]
        self.log = open(self.folder / "proxy.log", "ab")
        self.process = subprocess.Popen(args, cwd=self.folder, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("proxy exited at start: " + (self.folder / "proxy.log").read_text())
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.socket_path)
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("proxy did not start: " + (self.folder / "proxy.log").read_text())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(params=EDITIONS)
def proxy(request):
    p = Proxy(request.param)
    yield p
    p.stop()


@pytest.fixture
def personal():
    p = Proxy("personal")
    yield p
    p.stop()


@pytest.fixture
def enterprise_pair():
    """Two proxies on one PostgreSQL database (and one Redis key space)."""
    first = Proxy("enterprise")
    second = Proxy("enterprise", same_store_as=first)
    yield first, second
    second.stop()
    first.stop()


EMBEDDER = REPO / "Tests" / "ProxyTests" / "Fixtures" / "embedder_server.py"


@pytest.fixture
def embedding_proxy(tmp_path):
    """A Personal proxy whose embedder (``vector.embedder``) is a fake OpenAI-compatible server of
    16-dimension vectors; yields the proxy and the file where the server counts what it embedded."""
    port_file = tmp_path / "port"
    server = subprocess.Popen([sys.executable, str(EMBEDDER), str(port_file)])
    proxy = None
    try:
        deadline = time.time() + 10
        while not port_file.exists() or not port_file.read_text():
            assert time.time() < deadline and server.poll() is None, "the fake embedder did not start"
            time.sleep(0.02)
        proxy = Proxy("personal")
        with open(proxy.config, "a") as f:
            f.write(f"vector:\n  embedder:\n    url: \"http://127.0.0.1:{port_file.read_text()}/v1/embeddings\"\n"
                    "    model: fake-16\n")
        proxy.stop()
        proxy.start()
        yield proxy, tmp_path / "port.stats"
    finally:
        if proxy:
            proxy.stop()
        server.kill()
