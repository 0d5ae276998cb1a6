"""Helpers for the hostile-input tests of the local server: hand-made signatures and raw HTTP exchanges (exact
bytes, duplicate headers, partial bodies) that no well-behaved client would send."""

from __future__ import annotations

import http.client
import socket
import time
from urllib.parse import quote

from reconciler.local import LocalServer
from reconciler.local.auth import sign, string_to_sign
from tests.local.conftest import REGION


def host_of(bucket: str) -> str:
    return f"{bucket}.cos.{REGION}.myqcloud.com"


def signed_auth(server: LocalServer, method: str, key: str, headers: dict[str, str],
                params: dict[str, str] | None = None, *, signature: str | None = None,
                key_time: str | None = None) -> str:
    """An Authorization value signing exactly ``headers`` and ``params`` (names lower-case, as the SDK does)."""
    now = int(time.time())
    key_time = key_time or f"{now - 60};{now + 600}"
    enc = {k.lower(): quote(v, safe="-_.~") for k, v in headers.items()}
    enc_params = {quote(k, safe="-_.~").lower(): quote(v, safe="-_.~") for k, v in (params or {}).items()}
    to_sign = string_to_sign(method, "/" + key, enc_params, enc, key_time)
    signature = signature or sign(server.secret_key, key_time, to_sign)
    return (f"q-sign-algorithm=sha1&q-ak={server.secret_id}&q-sign-time={key_time}&q-key-time={key_time}"
            f"&q-header-list={';'.join(sorted(enc))}&q-url-param-list={';'.join(sorted(enc_params))}"
            f"&q-signature={signature}")


def raw(server: LocalServer, method: str, target: str, headers: list[tuple[str, str]],
        body: bytes = b"") -> tuple[int, bytes]:
    """Send headers exactly as given (duplicates included) over a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name, value)
    conn.endheaders(body)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, data


def connect(server: LocalServer, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_reply(sock: socket.socket, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Parse one HTTP reply from a socket (status, lower-case headers, body)."""
    reply = http.client.HTTPResponse(sock, method=method)
    reply.begin()
    return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes (EOF or reset) within ``seconds``, reading and dropping anything it sends."""
    sock.settimeout(seconds)
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return False
