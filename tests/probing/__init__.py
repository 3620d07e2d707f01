"""Tests of ocspkit's probing part."""
