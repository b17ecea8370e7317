"""Streaming CNN accelerator generated from a NetSpec."""
