"""Tests of ocspkit's testing part."""
