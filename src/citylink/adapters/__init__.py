"""Adapters that turn outside data formats and protocols into citylink domain objects."""
