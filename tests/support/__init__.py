"""Helpers shared by the tests: real servers on free loopback ports, fixtures data."""
