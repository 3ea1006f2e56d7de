"""A minimal SIP phone for tests: REGISTER over UDP with digest authentication (RFC 3261/2617).

Just enough to ask a real Asterisk "does this extension and password make a phone?", the
way a desk phone or a browser SIP library would on start-up.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
from dataclasses import dataclass

_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]+))')


@dataclass(frozen=True)
class SipResponse:
    """A SIP response: its status code and headers (the first of each name, lower-cased)."""

    status: int
    headers: dict[str, str]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class SipPhone:
    """One phone (`extension`, `password`) registering at 127.0.0.1:`port`."""

    def __init__(self, port: int, extension: str, password: str, *, timeout: float = 5.0) -> None:
        self.server = ("127.0.0.1", port)
        self.extension, self.password, self.timeout = extension, password, timeout
        self.call_id = secrets.token_hex(8)
        self.tag = secrets.token_hex(4)

    def register(self, expires: int = 60) -> SipResponse:
        """REGISTER, answering one digest challenge; Asterisk's final response."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout)
            sock.bind(("127.0.0.1", 0))
            local = sock.getsockname()[1]
            response = self._exchange(sock, local, 1, expires, authorization=None)
            if response.status != 401 or "www-authenticate" not in response.headers:
                return response
            answer = self._answer(response.headers["www-authenticate"])
            return self._exchange(sock, local, 2, expires, authorization=answer)

    def _answer(self, challenge: str) -> str:
        """The Authorization header for an MD5 digest challenge (qop=auth when offered)."""
        params = {m[1]: m[2] or m[3] for m in _CHALLENGE_PARAM.finditer(challenge)}
        uri = f"sip:{self.server[0]}:{self.server[1]}"
        ha1 = _md5(f"{self.extension}:{params['realm']}:{self.password}")
        ha2 = _md5(f"REGISTER:{uri}")
        fields = {"username": self.extension, "realm": params["realm"], "nonce": params["nonce"],
                  "uri": uri, "algorithm": "MD5"}
        if "auth" in params.get("qop", "").split(","):
            cnonce, count = secrets.token_hex(8), "00000001"
            fields["response"] = _md5(f"{ha1}:{params['nonce']}:{count}:{cnonce}:auth:{ha2}")
            quoted = ", ".join(f'{key}="{value}"' for key, value in fields.items())
            answer = f"Digest {quoted}, qop=auth, nc={count}, cnonce=\"{cnonce}\""
        else:
            fields["response"] = _md5(f"{ha1}:{params['nonce']}:{ha2}")
            answer = "Digest " + ", ".join(f'{key}="{value}"' for key, value in fields.items())
        if "opaque" in params:
            answer += f', opaque="{params["opaque"]}"'
        return answer

    def _exchange(self, sock: socket.socket, local: int, cseq: int, expires: int,
                  authorization: str | None) -> SipResponse:
        """Send one REGISTER; the first final (non-1xx) response to it."""
        host, port = self.server
        aor = f"sip:{self.extension}@{host}:{port}"
        lines = [
            f"REGISTER sip:{host}:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};rport;branch=z9hG4bK{secrets.token_hex(8)}",
            "Max-Forwards: 70",
            f"From: <{aor}>;tag={self.tag}",
            f"To: <{aor}>",
            f"Call-ID: {self.call_id}@127.0.0.1",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{self.extension}@127.0.0.1:{local}>",
            f"Expires: {expires}",
            "User-Agent: callcards-test-phone",
        ]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        message = "\r\n".join([*lines, "Content-Length: 0", "", ""])
        sock.sendto(message.encode(), self.server)
        while True:
            data, _ = sock.recvfrom(65535)
            response = _parse(data.decode(errors="replace"))
            # Not a response: a request from Asterisk (OPTIONS to the new contact), ignored.
            if response is not None and response.status >= 200:
                return response


def _parse(text: str) -> SipResponse | None:
    """A response's status and headers; None for a request."""
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    if not head[0].startswith("SIP/2.0 "):
        return None
    status = int(head[0].split()[1])
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return SipResponse(status, headers)
