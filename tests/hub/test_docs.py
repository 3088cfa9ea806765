"""The example in docs/hub-governance.md runs against a hub (in process)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.hub.world import PASSWORD, World

DOC = Path(__file__).parents[2] / "docs" / "hub-governance.md"
NETWORK = 'HUB = "http://127.0.0.1:8700"\nTRANSPORT: httpx.BaseTransport | None = None'


def example() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    [code] = blocks
    return code


def test_the_whole_flow_of_the_documentation_runs(
    gov: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    code = example()
    assert NETWORK in code
    assert f'PASSWORD = "{PASSWORD}"' in code
    monkeypatch.setenv("PERRON_STATION_TOKEN", gov.stations["st-north"].token)
    # The same code, over the test client's in-process transport instead of the network.
    namespace = {"__name__": "docs_example"}
    preamble = f"HUB = {str(gov.client.base_url)!r}\nTRANSPORT = _transport\n"
    namespace["_transport"] = gov.client._transport

    exec(compile(code.replace(NETWORK, preamble), str(DOC), "exec"), namespace)

    # One holder completed, two in review: approved (running once the period began).
    assert capsys.readouterr().out.split()[0] in ("approved", "running")
    [entry] = gov.client.get("/api/register").json()
    assert entry["holders"][0] == {"holder": "umc-north", "status": "completed"}
    assert entry["results"][0]["publications"] == ["doi:10.1000/example"]
    assert isinstance(namespace["ana"], httpx.Client)
