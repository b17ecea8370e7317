"""Shared fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded torch generator: every test that draws random data is reproducible."""
    return torch.Generator().manual_seed(1288)
