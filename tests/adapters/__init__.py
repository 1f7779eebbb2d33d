"""Tests for citylink.adapters."""
