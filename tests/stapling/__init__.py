"""Tests of ocspkit's stapling part."""
