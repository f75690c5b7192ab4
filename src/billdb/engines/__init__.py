"""Thin adapters, one per external program or service."""
