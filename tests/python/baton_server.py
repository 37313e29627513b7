"""Starts the real `baton serve` for the tests: 127.0.0.1:0, a given data dir,
extra `BATON_*` settings and CLI flags; yields the URL it reports."""

import contextlib
import os
import subprocess
import time

import pytest

BATON = os.environ["BATON_BIN"]


@contextlib.contextmanager
def serve(data_dir, env=None, args=()):
    proc = subprocess.Popen(
        [BATON, "serve", "--bind", "127.0.0.1:0", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=dict(os.environ, RUST_LOG="warn", **(env or {})), text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("baton listening on "):
                url = line.split("listening on ", 1)[1].strip()
                break
        if url is None:
            pytest.fail("baton did not report its address")
        yield url
    finally:
        proc.kill()  # only the child we started, by its handle
        proc.wait()
