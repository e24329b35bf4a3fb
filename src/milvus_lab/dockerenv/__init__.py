"""A private Docker Engine (tests, CI) and the images built on it without a registry."""
