"""The shell sessions of clients/shell/README.md and PROTOCOL.md's copy-paste
section, run for real: each ```console block is one bash session (real nc,
socat and coproc) against a fresh proxy, its output compared with the page."""

import re
import subprocess

import pytest

from conftest import REPO, Proxy

SHELL_PAGE = REPO / "clients" / "shell" / "README.md"
PROTOCOL = REPO / "protocol" / "PROTOCOL.md"


def console_blocks(text: str):
    """(script, expected output lines) for every ```console block, in page order."""
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        script, expected, heredoc_end = [], [], None
        for line in block.splitlines():
            if heredoc_end is not None:
                script.append(line)
                if line == heredoc_end:
                    heredoc_end = None
            elif line.startswith("$ "):
                script.append(line[2:])
                here = re.search(r"<<'(\w+)'", line)
                heredoc_end = here.group(1) if here else None
            elif line:
                expected.append(line)
        yield "\n".join(script) + "\n", expected


def matches(actual: str, documented: str) -> bool:
    """``…`` in the documented line stands for anything."""
    return re.fullmatch(".*".join(map(re.escape, documented.split("…"))), actual) is not None


def run_page(text: str, proxy: Proxy, minimum_blocks: int):
    blocks = list(console_blocks(text))
    assert len(blocks) >= minimum_blocks
    for script, expected in blocks:
        if proxy.port:
            script = script.replace("127.0.0.1:7600", f"127.0.0.1:{proxy.port}").replace(
                "127.0.0.1 7600", f"127.0.0.1 {proxy.port}")
        run = subprocess.run(["bash", "-c", script], cwd=proxy.folder, capture_output=True, text=True, timeout=60)
        actual = run.stdout.splitlines()
        assert len(actual) == len(expected), f"{script}\n--- printed:\n{run.stdout}{run.stderr}"
        for got, documented in zip(actual, expected):
            assert matches(got, documented), f"{script}\n--- documented: {documented}\n--- printed:    {got}"


@pytest.fixture
def shell_proxy():
    p = Proxy("personal", tcp=True, token="s3cret")
    yield p
    p.stop()


def test_shell_page_sessions(shell_proxy):
    run_page(SHELL_PAGE.read_text(), shell_proxy, minimum_blocks=6)


def test_protocol_copy_paste_section_with_real_nc(personal):
    section = PROTOCOL.read_text().split("## Every method, copy-paste")[1].split("\n## ")[0]
    run_page(section, personal, minimum_blocks=1)
