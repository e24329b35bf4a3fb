"""Milvus Production Labs: the library every lab script uses."""

__version__ = "0.1.0"
