"""Test helpers shared by tests/ and checks/ (pytest plugins, fixtures)."""
