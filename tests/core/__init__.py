"""Tests of ocspkit's core part."""
