"""LangChain's LLM cache (``BaseCache``) over the proxy's ``cache.*`` (Redis in
the Enterprise Edition): a model's answers to a prompt, shared by every agent
process, with an optional time to live. See ``storage_proxy.langchain``."""

import hashlib
import json
from datetime import timedelta
from typing import Any, List, Optional, Sequence

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.load import dumps, loads
from langchain_core.messages import (AIMessage, AIMessageChunk, ChatMessage, ChatMessageChunk, FunctionMessage,
                                     FunctionMessageChunk, HumanMessage, HumanMessageChunk, SystemMessage,
                                     SystemMessageChunk, ToolMessage, ToolMessageChunk)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from .client import StorageProxyClient
from .threaded import ThreadedClient

# What a cached answer may revive (langchain_core.load.loads' allow-list): generations and the
# messages they carry, nothing that runs code or reaches the network when built.
REVIVABLE = [Generation, GenerationChunk, ChatGeneration, ChatGenerationChunk, AIMessage, AIMessageChunk,
             HumanMessage, HumanMessageChunk, SystemMessage, SystemMessageChunk, ToolMessage, ToolMessageChunk,
             ChatMessage, ChatMessageChunk, FunctionMessage, FunctionMessageChunk]


class ProxyCache(BaseCache):
    """``set_llm_cache(ProxyCache("unix:///app/storage/proxy.sock"))``: an LLM call whose prompt and
    model settings were seen before is answered from the proxy's cache.

    Keys are ``prefix`` + a SHA-256 of the model settings and prompt; ``clear()`` removes only
    keys under ``prefix`` (keep one prefix per cache). ``ttl``: how long an answer is kept
    (None: until cleared or evicted). Blocking and asyncio methods alike."""

    def __init__(self, address: str = "unix://storage/proxy.sock", *, prefix: str = "langchain:llm:",
                 ttl: Optional[timedelta] = None, token: Optional[str] = None):
        self.prefix = prefix
        self.ttl = ttl
        self._proxy = ThreadedClient(address, token=token, name="ProxyCache")

    def close(self) -> None:
        self._proxy.close()

    def _key(self, prompt: str, llm_string: str) -> str:
        return self.prefix + hashlib.sha256(json.dumps([llm_string, prompt]).encode()).hexdigest()

    def lookup(self, prompt: str, llm_string: str) -> Optional[RETURN_VAL_TYPE]:
        return _revived(self._proxy.run(lambda client: client.get(self._key(prompt, llm_string))))

    async def alookup(self, prompt: str, llm_string: str) -> Optional[RETURN_VAL_TYPE]:
        return _revived(await self._proxy.arun(lambda client: client.get(self._key(prompt, llm_string))))

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        value = [dumps(generation) for generation in return_val]
        self._proxy.run(lambda client: client.set(self._key(prompt, llm_string), value, self.ttl))

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        value = [dumps(generation) for generation in return_val]
        await self._proxy.arun(lambda client: client.set(self._key(prompt, llm_string), value, self.ttl))

    def clear(self, **kwargs: Any) -> None:
        self._proxy.run(self._clear)

    async def aclear(self, **kwargs: Any) -> None:
        await self._proxy.arun(self._clear)

    async def _clear(self, client: StorageProxyClient) -> None:
        await client.clear_pattern(_glob_escaped(self.prefix) + "*")


def _revived(stored: Optional[List[str]]) -> Optional[Sequence[Generation]]:
    if stored is None:
        return None
    return [loads(text, allowed_objects=REVIVABLE) for text in stored]


def _glob_escaped(text: str) -> str:
    """``text`` matched literally by a Redis glob."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
