"""Fuzz tests: the campaign total runs after every campaign of the session, whatever the file order."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [i for i in items if i.name == "test_campaign_total"]
    items[:] = [i for i in items if i.name != "test_campaign_total"] + last
