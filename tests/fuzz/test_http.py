"""The web UI's front door, fuzzed briefly on every run (``make fuzz`` runs the long one).

The target (``fuzz/http.py``) sends raw bytes to a real web UI over TCP on
127.0.0.1 and checks that nothing is answered with a 5xx, nothing logs a
traceback and the server still answers afterwards. Inputs: the regression
corpus in ``tests/fuzz_corpus/http`` (every input that once broke something)
and requests Hypothesis builds from HTTP's shape and then damages.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import http
from fuzz.harness import QuietLogging
from tests.fuzzing import repeatable, replay_corpus


@pytest.fixture(autouse=True)
def quiet_impsy_logger() -> Iterator[None]:
    with QuietLogging():
        yield


def test_regression_corpus_passes() -> None:
    replay_corpus("http", http.one_input)


HEADER = st.sampled_from(
    [
        b"Content-Length: 7\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Type: multipart/form-data; boundary=b\r\n",
        b"Content-Type: multipart/form-data\r\n",
        b"Content-Type: application/json\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Origin: null\r\n",
        b"Authorization: Bearer x\r\n",
        b"Cookie: impsy_token=\x00\r\n",
    ]
)
BODY = st.sampled_from(
    [
        b"",
        b"{}",
        b'{"text": 1}',
        b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n',
        b"0\r\n\r\n",
        b"\xff\xfe",
        b"[" * 2000,
    ]
)


@repeatable(max_examples=60)
@given(prefix=st.integers(0, 255), headers=st.lists(HEADER, max_size=4), body=BODY)
def test_requests_built_from_http_s_shape_are_answered_sanely(prefix, headers, body) -> None:
    http.one_input(bytes([prefix]) + b"".join(headers) + b"\r\n" + body)
