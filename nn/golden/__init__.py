"""Bit-exact integer golden models, written from the spec in ARCHITECTURE.md (not from the RTL)."""
