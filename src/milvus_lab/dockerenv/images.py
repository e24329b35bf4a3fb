"""Images built with no registry: a Debian base by mmdebstrap, then Dockerfiles on top.

Why: no image registry is reachable from CI, so ``FROM python:...`` cannot be pulled.
``mmdebstrap`` builds a Debian bookworm root filesystem from the Debian mirror (reachable)
and ``docker import`` turns it into the base image; the project's Dockerfile takes it
through its ``BASE_IMAGE`` build argument. Builds use host networking (``pip`` reaches
PyPI; the engine has no bridge).

Cached by content: the base tag carries a hash of its inputs, and its rootfs tarball is
kept in the engine's cache dir, so a warm run neither debootstraps nor imports again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from milvus_lab import __version__
from milvus_lab.dockerenv.engine import cache_root
from milvus_lab.errors import PrerequisiteError, VerificationFailed
from milvus_lab.settings import find_repo_root

SUITE = "bookworm"
#: What the project's images need from Debian: Python 3.11 with venv/pip wheels, CA
#: certificates (pip over HTTPS), passwd (the Dockerfile's useradd).
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates", "passwd")
BASE_REPOSITORY = "milvus-lab/debian-python"
ROOTFS_REPOSITORY = "milvus-lab/debian-rootfs"
MILVUS_PYPI_VERSION = "2.3.5"
#: Not the official image: the real Milvus 2.3.5 standalone binary from PyPI's `milvus`.
MILVUS_IMAGE = f"milvus-lab/milvus-pypi:{MILVUS_PYPI_VERSION}"
#: Same name as milvus_lab.kube.manifests.API_IMAGE (kept import-free of the kube extra; a test checks).
API_IMAGE = f"milvus-lab/search-api:{__version__}"
MILVUS_CONTEXT = Path("tools") / "docker-engine" / "milvus-pypi"


@dataclass(frozen=True)
class BaseSpec:
    """The inputs of the base image; their hash is its tag."""

    suite: str = SUITE
    variant: str = "minbase"
    packages: tuple[str, ...] = BASE_PACKAGES
    mirror: str = "http://deb.debian.org/debian"

    def digest(self) -> str:
        raw = json.dumps([self.suite, self.variant, sorted(self.packages), self.mirror])
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def mmdebstrap_argv(self, out: Path) -> list[str]:
        return ["mmdebstrap", f"--variant={self.variant}", f"--include={','.join(self.packages)}",
                "--aptopt=Acquire::Retries \"3\"", self.suite, str(out), self.mirror]


def client(docker_host: str):  # -> docker.DockerClient (the SDK has no stubs)
    import docker

    return docker.DockerClient(base_url=docker_host, timeout=600)


def image_exists(docker_host: str, tag: str) -> bool:
    import docker

    c = client(docker_host)
    try:
        c.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        c.close()


def host_ca_files() -> list[Path]:
    """Local CA certificates the host trusts beyond Debian's (a TLS-inspecting proxy's).

    Why: builds run ``pip`` on the host's network; where egress goes through a proxy that
    re-signs TLS, the image must trust the same extra CAs as the host or pip fails with
    CERTIFICATE_VERIFY_FAILED. MILVUS_LAB_DOCKER_CA_DIR overrides the directory.
    """
    ca_dir = Path(os.environ.get("MILVUS_LAB_DOCKER_CA_DIR", "/usr/local/share/ca-certificates"))
    return sorted(p for p in ca_dir.glob("**/*.crt") if p.is_file()) if ca_dir.is_dir() else []


def base_tag(spec: BaseSpec, cas: list[Path]) -> str:
    h = hashlib.sha256(spec.digest().encode())
    for ca in cas:
        h.update(ca.name.encode() + ca.read_bytes())
    return f"{BASE_REPOSITORY}:{spec.suite}-{h.hexdigest()[:12]}"


def _import_rootfs(docker_host: str, spec: BaseSpec) -> tuple[str, str]:
    """The bare rootfs image (mmdebstrap output, cached as a tarball too) and what was done."""
    rootfs = f"{ROOTFS_REPOSITORY}:{spec.suite}-{spec.digest()}"
    if image_exists(docker_host, rootfs):
        return rootfs, "cached"
    tar = cache_root() / "base" / f"{spec.suite}-{spec.digest()}.tar"
    done = "imported cached rootfs tarball"
    if not tar.exists():
        if shutil.which("mmdebstrap") is None:
            raise PrerequisiteError("mmdebstrap is not installed (it builds the Debian base image)",
                                    fix="apt-get install -y mmdebstrap")
        tar.parent.mkdir(parents=True, exist_ok=True)
        tmp = tar.with_suffix(".tmp.tar")
        proc = subprocess.run(spec.mmdebstrap_argv(tmp), capture_output=True, text=True, timeout=1800,
                              check=False)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise VerificationFailed(f"mmdebstrap failed: {proc.stderr.strip()[-1500:]}",
                                     fix=" ".join(spec.mmdebstrap_argv(tar)))
        tmp.rename(tar)
        done = "mmdebstrap + import"
    c = client(docker_host)
    try:
        repo, tag = rootfs.split(":")
        with open(tar, "rb") as fh:
            c.api.import_image_from_data(fh.read(), repository=repo, tag=tag, changes=[
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8", 'CMD ["python3"]'])
    finally:
        c.close()
    return rootfs, done


def ensure_base(docker_host: str, spec: BaseSpec | None = None) -> tuple[str, str]:
    """The base image's tag and what was done: Debian rootfs + the host's extra CAs."""
    spec = spec or BaseSpec()
    cas = host_ca_files()
    tag = base_tag(spec, cas)
    if image_exists(docker_host, tag):
        return tag, "cached"
    rootfs, done = _import_rootfs(docker_host, spec)
    ctx = cache_root() / "base" / f"context-{tag.rsplit('-', 1)[-1]}"
    shutil.rmtree(ctx, ignore_errors=True)
    (ctx / "ca").mkdir(parents=True)
    for i, ca in enumerate(cas):
        shutil.copyfile(ca, ctx / "ca" / f"{i:02d}-{ca.name}")
    (ctx / "Dockerfile").write_text(
        f"FROM {rootfs}\n"
        "COPY ca/ /usr/local/share/ca-certificates/milvus-lab-host/\n"
        "RUN update-ca-certificates >/dev/null && python3 -c 'import ssl; ssl.create_default_context()'\n")
    build(docker_host, ctx, tag, {})
    return tag, f"{done}; {len(cas)} host CA(s) added"


def build(docker_host: str, context: Path, tag: str, buildargs: dict[str, str],
          dockerfile: str = "Dockerfile") -> str:
    """`docker build --network host` through the API; returns the image id. Raises with the log tail."""
    c = client(docker_host)
    log: list[str] = []
    try:
        for chunk in c.api.build(path=str(context), dockerfile=dockerfile, tag=tag, buildargs=buildargs,
                                 network_mode="host", rm=True, forcerm=True, decode=True):
            if "stream" in chunk:
                log.append(chunk["stream"])
            if "error" in chunk:
                tail = "".join(log[-30:]) + chunk["error"]
                raise VerificationFailed(f"docker build of {tag} failed:\n{tail}",
                                         fix=f"docker build --network host -t {tag} {context}")
        return str(c.images.get(tag).id)
    finally:
        c.close()


def api_image() -> str:
    """The search API image name (the one target kube uses; the package version is its tag)."""
    return API_IMAGE


def build_search_api(docker_host: str, base: str) -> str:
    root = find_repo_root()
    return build(docker_host, root, api_image(), {"BASE_IMAGE": base})


def build_milvus(docker_host: str, base: str) -> str:
    root = find_repo_root()
    return build(docker_host, root / MILVUS_CONTEXT, MILVUS_IMAGE,
                 {"BASE_IMAGE": base, "MILVUS_VERSION": MILVUS_PYPI_VERSION})


def build_all(docker_host: str, which: tuple[str, ...] = ("base", "search-api", "milvus")) -> Iterator[str]:
    """Build every image, yielding one timing line per image (CI prints them)."""
    start = time.monotonic()
    base, how = ensure_base(docker_host)
    yield f"images: base {base}: {how} in {time.monotonic() - start:.1f} s"
    if "search-api" in which:
        t = time.monotonic()
        build_search_api(docker_host, base)
        yield f"images: {api_image()}: built in {time.monotonic() - t:.1f} s"
    if "milvus" in which:
        t = time.monotonic()
        build_milvus(docker_host, base)
        yield f"images: {MILVUS_IMAGE}: built in {time.monotonic() - t:.1f} s"
    yield f"images: all done in {time.monotonic() - start:.1f} s (app {__version__})"


def env_for_compose() -> dict[str, str]:
    """Variables that point docker-compose.yml at the locally built images (never retagged)."""
    return {"MILVUS_LAB_MILVUS_IMAGE": MILVUS_IMAGE, **({"DOCKER_HOST": os.environ["DOCKER_HOST"]}
                                                       if "DOCKER_HOST" in os.environ else {})}
