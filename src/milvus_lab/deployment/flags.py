"""Lab 01's own flags: how Milvus is installed on kube, and the validation drill."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--installer`, `--inject-invalid` and `--rebuild-image`, next to the common lab flags."""
    parser.add_argument("--installer", choices=("manifests", "helm"), default="manifests",
                        help="kube: install Milvus from our manifests (default) or the official Helm chart")
    parser.add_argument("--inject-invalid", action="store_true",
                        help="add two deliberately broken objects to see what validation catches")
    parser.add_argument("--rebuild-image", action="store_true", help="kube on kind: docker build even if present")
