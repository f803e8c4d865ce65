"""`--debug` shows botocore's requests, never the secret key, the session token or a signature."""

from __future__ import annotations

import re

from helpers import orderpipe

TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789abcdef"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_debug_output_hides_the_session_token(env: dict[str, str]) -> None:
    env = {**env, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN}
    output = orderpipe("--debug", "--target", "aws", "--stack", "dbg", "status", env=env).output
    assert "x-amz-security-token:****" in output  # botocore did log the signed request
    assert TOKEN not in output and SECRET not in output
    assert not re.search(r"Signature[=:]\s*[0-9a-f]{64}", output)
