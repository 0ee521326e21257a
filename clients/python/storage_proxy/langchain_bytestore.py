"""LangChain's key-value byte store (``BaseStore[str, bytes]``, a ``ByteStore``)
over the proxy's durable metadata (``save_metadata``, ``list_metadata``…):
what ``CacheBackedEmbeddings`` and the parent-document retriever keep. See
``storage_proxy.langchain``."""

import asyncio
import base64
from typing import AsyncIterator, Iterator, List, Optional, Sequence, Tuple

from langchain_core.stores import BaseStore

from .client import StorageProxyClient
from .threaded import ThreadedClient

# Keys per list_metadata page (the proxy takes up to 10,000).
PAGE = 1000


class ProxyByteStore(BaseStore[str, bytes]):
    """Bytes by key, kept exactly and durably (stored as base64 under ``namespace`` + key in the
    proxy's metadata: committed before ``mset`` returns, one transaction per call). ``namespace``
    keeps one store's keys apart from another's: ``yield_keys`` and ``mdelete`` see only its own.
    Blocking and asyncio methods alike."""

    def __init__(self, address: str = "unix://storage/proxy.sock", *, namespace: str = "langchain:bytes:",
                 token: Optional[str] = None):
        self.namespace = namespace
        self._proxy = ThreadedClient(address, token=token, name="ProxyByteStore")

    def close(self) -> None:
        self._proxy.close()

    def mget(self, keys: Sequence[str]) -> List[Optional[bytes]]:
        return self._proxy.run(lambda client: self._get(client, keys))

    async def amget(self, keys: Sequence[str]) -> List[Optional[bytes]]:
        return await self._proxy.arun(lambda client: self._get(client, keys))

    async def _get(self, client: StorageProxyClient, keys: Sequence[str]) -> List[Optional[bytes]]:
        # All sent before the first answer is read (the connection pipelines them).
        stored = await asyncio.gather(*(client.get_metadata(self.namespace + key) for key in keys))
        return [None if value is None else base64.b64decode(value) for value in stored]

    def mset(self, key_value_pairs: Sequence[Tuple[str, bytes]]) -> None:
        self._proxy.run(lambda client: self._set(client, key_value_pairs))

    async def amset(self, key_value_pairs: Sequence[Tuple[str, bytes]]) -> None:
        await self._proxy.arun(lambda client: self._set(client, key_value_pairs))

    async def _set(self, client: StorageProxyClient, pairs: Sequence[Tuple[str, bytes]]) -> None:
        if not pairs:
            return
        async with client.transaction() as tx:
            await asyncio.gather(*(tx.save_metadata(self.namespace + key, base64.b64encode(bytes(value)).decode("ascii"))
                                   for key, value in pairs))

    def mdelete(self, keys: Sequence[str]) -> None:
        self._proxy.run(lambda client: self._delete(client, keys))

    async def amdelete(self, keys: Sequence[str]) -> None:
        await self._proxy.arun(lambda client: self._delete(client, keys))

    async def _delete(self, client: StorageProxyClient, keys: Sequence[str]) -> None:
        if not keys:
            return
        async with client.transaction() as tx:
            await asyncio.gather(*(tx.delete_metadata(self.namespace + key) for key in keys))

    def yield_keys(self, *, prefix: Optional[str] = None) -> Iterator[str]:
        """The keys (starting with ``prefix``), in byte order, a page at a time."""
        after = None
        while True:
            page = self._proxy.run(lambda client: self._page(client, prefix, after))
            yield from (key[len(self.namespace):] for key in page)
            if len(page) < PAGE:
                return
            after = page[-1]

    async def ayield_keys(self, *, prefix: Optional[str] = None) -> AsyncIterator[str]:
        after = None
        while True:
            page = await self._proxy.arun(lambda client: self._page(client, prefix, after))
            for key in page:
                yield key[len(self.namespace):]
            if len(page) < PAGE:
                return
            after = page[-1]

    async def _page(self, client: StorageProxyClient, prefix: Optional[str], after: Optional[str]) -> List[str]:
        return await client.list_metadata(self.namespace + (prefix or ""), after=after, limit=PAGE)
