"""`--debug` shows botocore's requests, never the secret key, the session token or a signature."""

from __future__ import annotations

import re
import subprocess

from test_cli_moto_server import ORDERPIPE, endpoint, env  # noqa: F401 (fixtures; tests/aws is on sys.path)

TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789abcdef"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_debug_output_hides_the_session_token(env: dict[str, str]) -> None:  # noqa: F811
    env = {**env, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN}
    result = subprocess.run(
        [str(ORDERPIPE), "--debug", "--target", "aws", "--stack", "dbg", "status"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "x-amz-security-token:****" in output  # botocore did log the signed request
    assert TOKEN not in output and SECRET not in output
    assert not re.search(r"Signature[=:]\s*[0-9a-f]{64}", output)
