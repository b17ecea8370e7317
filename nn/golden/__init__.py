"""Bit-exact integer golden models, written from the spec in docs/architecture.md (not from the RTL)."""
