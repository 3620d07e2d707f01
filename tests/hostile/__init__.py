"""Crafting helpers for the hostile-input tests and the fuzz campaign (tests only)."""
