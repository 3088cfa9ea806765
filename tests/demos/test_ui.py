"""``perron demo --ui``: the hub and stations come up, the study gets results on its
page, a second request waits in the data managers' inboxes, and it stops cleanly."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from rich.console import Console

from perron.demos import ui
from perron.demos.route import STUDY
from perron.sandbox.localnet import RESEARCHER


def test_the_ui_demo_leaves_results_and_a_waiting_request_then_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)
    seen: dict[str, object] = {}

    original = ui.leave_waiting

    def leave_and_look(world: ui.UiWorld) -> str:
        request_id = original(world)
        with httpx.Client(base_url=world.network.url, follow_redirects=False) as hub:
            seen["home"] = hub.get("/ui/").status_code
            seen["register"] = hub.get("/ui/register").text
            login = {"username": RESEARCHER, "password": world.password(RESEARCHER)}
            token = hub.post("/api/auth/token", json=login).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            seen["results"] = hub.get(f"/api/studies/{STUDY}/results", headers=headers).json()
        seen["request_id"] = request_id
        return request_id

    monkeypatch.setattr(ui, "leave_waiting", leave_and_look)
    ui.main(console, hold=False)
    text = out.getvalue()
    url = re.search(r"http://127\.0\.0\.1:\d+/ui/", text)
    assert url is not None, text
    assert seen["home"] == 200
    assert "One-year survival after lung cancer" in str(seen["register"])
    titles = {r["title"] for r in seen["results"]}  # type: ignore[attr-defined]
    assert {"Overall survival by sex", "Hazard ratios, adjusted for age and ECOG"} <= titles
    assert "hub-admin" in text
    assert "umc-north-data" in text
