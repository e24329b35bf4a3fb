"""Kubernetes helpers for the labs (DESIGN.md section 7)."""
