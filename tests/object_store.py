"""An S3-compatible object store on loopback for the tests (moto's server, installed by the test set-up): the
studio and the Ray nodes reach it over HTTP as they would a real bucket. Its credentials travel in the URL, so
neither the test process nor the nodes need AWS variables, and nothing reaches a real cloud."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest

BUCKET = "studio-runs"


@contextmanager
def bucket_on_loopback(prefix: str = "team"):
    """Yields the URL of an empty prefix in a fresh bucket (s3://KEY:SECRET@bucket/prefix?endpoint_override=...)."""
    server_mod = pytest.importorskip("moto.server", reason="moto is installed by the test set-up")
    import pyarrow.fs as pafs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        _, port = server.get_host_and_port()
        url = f"s3://testing:testing@{BUCKET}/{prefix}?endpoint_override=http://127.0.0.1:{port}&region=us-east-1"
        fs, _ = pafs.FileSystem.from_uri(url + "&allow_bucket_creation=true")
        fs.create_dir(BUCKET)
        yield url
    finally:
        server.stop()
