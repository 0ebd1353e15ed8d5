"""`python -m kilngit.testing.<fake> --port N` serves a fake for demos: it says how to point kilngit at it,
answers, and stops on SIGTERM."""

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

HANG_S = 60  # guards a hang only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("module", "variable", "path"),
    [
        ("fake_openai", "OPENAI_BASE_URL", "/models"),
        ("fake_together", "KILNGIT_PROVIDER_TOGETHER_BASE_URL", "/files"),
        ("fake_fireworks", "KILNGIT_PROVIDER_FIREWORKS_BASE_URL", None),
        ("fake_tinker", "TINKER_BASE_URL", None),
    ],
)
def test_a_fake_starts_from_the_command_line(module, variable, path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", f"kilngit.testing.{module}", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = (
            proc.stdout.readline() + proc.stdout.readline()
        )  # the first two lines: serving, then an export
        assert f"127.0.0.1:{port}" in banner
        url = re.search(rf"export {variable}=(\S+)", banner).group(1)
        assert f":{port}" in url
        if path:
            request = urllib.request.Request(url + path, headers={"Authorization": "Bearer demo"})
            with urllib.request.urlopen(request, timeout=HANG_S) as response:
                assert isinstance(json.loads(response.read()), dict)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=HANG_S) == 0, proc.stderr.read()
