"""Fixtures for the local server's conformance suite: one shared in-process server, real SDK clients."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from qcloud_cos import CosConfig, CosS3Client

from reconciler.local import LocalServer

REGION = "ap-guangzhou"
_names = itertools.count()


def make_client(server: LocalServer, *, secret_id: str | None = None, secret_key: str | None = None,
                token: str | None = None, pool: int = 10) -> Any:
    conf = CosConfig(Region=REGION, SecretId=secret_id or server.secret_id, SecretKey=secret_key or server.secret_key,
                     Token=token, Scheme="http", IP="127.0.0.1", Port=server.port, Timeout=30)
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
    session.mount("http://", adapter)
    return CosS3Client(conf, retry=0, session=session)


def jpeg(width: int = 640, height: int = 480, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 16):  # some structure, so matting and resizing have something to work on
        image.paste((20, 180, 60), (x, height // 3, min(width, x + 8), 2 * height // 3))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    root = tmp_path_factory.mktemp("cosrecon-local")
    with LocalServer(root, ci_qps=0) as srv:
        yield srv


@pytest.fixture(scope="session")
def client(server: LocalServer) -> Any:
    return make_client(server, pool=70)


@pytest.fixture
def bucket(server: LocalServer, client: Any) -> str:
    """A fresh bucket, created through the API."""
    name = f"test{next(_names)}-1250000000"
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def root_of(server: LocalServer) -> Path:
    return server.root
