"""Tests of ocspkit's client part."""
