"""Linked services: one module each, all of one shape (see base.Service), registered in registry.py."""
