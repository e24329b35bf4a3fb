"""A content-addressed artifact registry on disk: blobs by digest, tags pointing at digests,
and per-environment promotions that can only name a digest (never a mutable tag).

Layout under `<root>`: `blobs/sha256/<hex>`, `tags/<tag>` (file holding the digest),
`promotions.jsonl` (one line per promotion: env, digest, at). The Docker image stage does the
same with a real registry (`docker push`, then promote by `name@sha256:...`).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from milvus_lab.pipeline.artifact import sha256_file


class RegistryError(Exception):
    pass


@dataclass(frozen=True)
class Promotion:
    env: str
    digest: str
    at: float
    tags: tuple[str, ...] = ()


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def blob(self, digest: str) -> Path:
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or len(hexd) != 64:
            raise RegistryError(f"not a sha256 digest: {digest!r}")
        return self.root / "blobs" / "sha256" / hexd

    def push(self, path: Path) -> str:
        """Store the file under its digest (idempotent); the digest is re-checked after copying."""
        digest = sha256_file(path)
        dest = self.blob(digest)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".tmp")
            shutil.copyfile(path, tmp)
            if sha256_file(tmp) != digest:
                tmp.unlink()
                raise RegistryError(f"{path} changed while it was pushed")
            tmp.replace(dest)
        return digest

    def has(self, digest: str) -> bool:
        return self.blob(digest).exists() and sha256_file(self.blob(digest)) == digest

    def tag(self, tag: str, digest: str) -> None:
        if not self.blob(digest).exists():
            raise RegistryError(f"cannot tag {tag}: {digest} was never pushed")
        path = self.root / "tags" / tag
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(digest + "\n")

    def resolve(self, tag: str) -> str:
        path = self.root / "tags" / tag
        if not path.exists():
            raise RegistryError(f"unknown tag {tag!r}")
        return path.read_text().strip()

    def tags_of(self, digest: str) -> list[str]:
        tags_dir = self.root / "tags"
        if not tags_dir.is_dir():
            return []
        return sorted(p.name for p in tags_dir.iterdir() if p.read_text().strip() == digest)

    def record_promotion(self, env: str, digest: str) -> Promotion:
        if not self.has(digest):
            raise RegistryError(f"cannot promote {digest} to {env}: not in the registry (or corrupted)")
        promo = Promotion(env, digest, time.time(), tuple(self.tags_of(digest)))
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "promotions.jsonl").open("a") as f:
            f.write(json.dumps(asdict(promo)) + "\n")
        return promo

    def promotions(self) -> list[Promotion]:
        path = self.root / "promotions.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            d = json.loads(line)
            out.append(Promotion(d["env"], d["digest"], d["at"], tuple(d.get("tags", ()))))
        return out
