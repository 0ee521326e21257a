"""ProxyStore with index={"embed": "proxy"}: the proxy's own embedder (vector.embedder) embeds the indexed
fields and the query; nothing is embedded in the client."""

import subprocess
import sys
import time
from pathlib import Path

from storage_proxy.langgraph import ProxyStore

from conftest import REPO, Proxy

EMBEDDER = REPO / "Tests" / "ProxyTests" / "Fixtures" / "embedder_server.py"


def test_the_proxy_embeds_for_the_store(tmp_path: Path):
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
            f.write(f"vector:\n  embedder:\n    url: \"http://127.0.0.1:{port_file.read_text()}/v1/embeddings\"\n    model: fake-16\n")
        proxy.stop()
        proxy.start()
        with ProxyStore(proxy.address, index={"embed": "proxy", "fields": ["text"]}) as store:
            store.put(("notes",), "cats", {"text": "cats purr softly"})
            store.put(("notes",), "rain", {"text": "rain falls on the roof"})
            store.put(("notes",), "plain", {"text": "rain rain rain"}, index=False)  # not embedded: after the scored ones
            hits = store.search(("notes",), query="rain falls")
            assert [h.key for h in hits] == ["rain", "cats", "plain"]
            assert hits[0].score > 0.5 and hits[2].score is None
        stats = (tmp_path / "port.stats").read_text()
        assert '"texts": 3' in stats, stats  # two puts' fields and the query, by the proxy
    finally:
        if proxy:
            proxy.stop()
        server.kill()
