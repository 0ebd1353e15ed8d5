"""Test helpers shipped with kilngit: loopback servers speaking provider wire protocols."""
