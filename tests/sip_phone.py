"""A minimal SIP phone for tests over UDP (RFC 3261, digest auth RFC 2617).

`SipPhone.register()` asks a real Asterisk "does this extension and password make a phone?",
the way a desk phone or a browser SIP library would on start-up. `SipPhone.online()` keeps
the phone registered and on the line: it answers Asterisk's OPTIONS (qualify), takes an
incoming call (100, 180, 200 with an SDP answer, waits for the ACK), puts the call on hold
with a re-INVITE `a=sendonly` and takes it off with `a=sendrecv`, and hangs up with BYE.
No RTP is sent; the media port is a bound socket nobody reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import re
import secrets
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]+))')
_COMPACT = {
    "v": "via",
    "i": "call-id",
    "f": "from",
    "t": "to",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
}
#: Codecs the phone answers with, by RTP payload type (static ones need no rtpmap).
_CODECS = {"0": "PCMU/8000", "8": "PCMA/8000"}


@dataclass(frozen=True)
class SipResponse:
    """A SIP response: its status code and headers (the first of each name, lower-cased)."""

    status: int
    headers: dict[str, str]


@dataclass(frozen=True)
class SipMessage:
    """A request or response as received: first line, every header in order, body."""

    first_line: str
    header_list: list[tuple[str, str]]
    body: str = ""

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        return self.first_line.split()[0] if self.is_request else self.cseq_method

    @property
    def status(self) -> int:
        return 0 if self.is_request else int(self.first_line.split()[1])

    @property
    def cseq_method(self) -> str:
        return self.get("cseq").split()[-1]

    def get(self, name: str) -> str:
        """The first header called `name` ('' if none)."""
        return next((value for key, value in self.header_list if key == name), "")

    def every(self, name: str) -> list[str]:
        """Every header called `name`, in order."""
        return [value for key, value in self.header_list if key == name]

    def response(self) -> SipResponse:
        return SipResponse(self.status, {key: self.get(key) for key, _ in self.header_list})


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _parse(data: bytes) -> SipMessage:
    text = data.decode(errors="replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers.append((_COMPACT.get(name, name), value.strip()))
    return SipMessage(lines[0], headers, body)


def _uri_of(name_addr: str) -> str:
    """The URI inside `"Name" <sip:...>;tag=...` (or a bare URI)."""
    inside = re.search(r"<([^>]*)>", name_addr)
    return inside[1] if inside else name_addr.split(";")[0].strip()


class SipPhone:
    """One phone (`extension`, `password`) registering at 127.0.0.1:`port`."""

    def __init__(self, port: int, extension: str, password: str, *, timeout: float = 5.0) -> None:
        self.server = ("127.0.0.1", port)
        self.extension, self.password, self.timeout = extension, password, timeout

    def register(self, expires: int = 60) -> SipResponse:
        """REGISTER, answering one digest challenge; Asterisk's final response."""
        with PhoneLine(self) as line:
            return line.register(expires).response()

    @contextlib.contextmanager
    def online(self) -> Iterator[PhoneLine]:
        """The phone registered and answering; unregistered and closed afterwards."""
        with PhoneLine(self) as line:
            registered = line.register(300)
            if registered.status != 200:
                raise AssertionError(
                    f"{self.extension} could not register: {registered.first_line}"
                )
            try:
                yield line
            finally:
                with contextlib.suppress(TimeoutError, AssertionError):
                    line.register(0)


@dataclass
class _Dialog:
    """The call the phone answered, as RFC 3261 section 12 keeps it."""

    invite: SipMessage
    local_tag: str
    codec: str
    cseq: int = 100
    sdp_version: int = 1
    direction: str = "sendrecv"
    acked: threading.Event = field(default_factory=threading.Event)
    ended_by_far_end: threading.Event = field(default_factory=threading.Event)

    @property
    def call_id(self) -> str:
        return self.invite.get("call-id")

    @property
    def remote_target(self) -> str:
        return _uri_of(self.invite.get("contact"))


class PhoneLine:
    """One socket of a phone, read by a thread that answers what Asterisk asks."""

    def __init__(self, phone: SipPhone) -> None:
        self.phone = phone
        self.call_id = secrets.token_hex(8)
        self.tag = secrets.token_hex(4)
        self._register_cseq = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media.bind(("127.0.0.1", 0))
        self._responses: queue.Queue[SipMessage] = queue.Queue()
        self._invites: queue.Queue[SipMessage] = queue.Queue()
        self._answers: dict[str, bytes] = {}  # an INVITE's call-id → our 200 (retransmits)
        self._rung: set[str] = set()  # call-ids of the INVITEs that rang
        self.dialog: _Dialog | None = None
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True, name="sip-phone")

    def __enter__(self) -> PhoneLine:
        self._reader.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._reader.join(2)
        self.sock.close()
        self.media.close()

    # -- what a test does -------------------------------------------------------------

    def register(self, expires: int) -> SipMessage:
        """REGISTER for `expires` seconds (0: sign out), answering one digest challenge."""
        host, port = self.phone.server
        aor = f"sip:{self.phone.extension}@{host}:{port}"
        authorization = None
        for _attempt in (1, 2):
            self._register_cseq += 1
            headers = [
                f"From: <{aor}>;tag={self.tag}",
                f"To: <{aor}>",
                f"Call-ID: {self.call_id}@127.0.0.1",
                f"CSeq: {self._register_cseq} REGISTER",
                f"Contact: <sip:{self.phone.extension}@127.0.0.1:{self.port}>",
                f"Expires: {expires}",
            ]
            if authorization:
                headers.append(f"Authorization: {authorization}")
            response = self._transaction("REGISTER", f"sip:{host}:{port}", headers)
            challenge = response.get("www-authenticate")
            if response.status != 401 or not challenge or authorization:
                return response
            authorization = self._digest(challenge, "REGISTER", f"sip:{host}:{port}")
        return response

    def wait_for_call(self, timeout: float = 15.0) -> SipMessage:
        """The next INVITE Asterisk sends (the phone already said 100 Trying and 180 Ringing)."""
        try:
            return self._invites.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no call rang {self.phone.extension} in {timeout} s") from None

    def answer(self, invite: SipMessage) -> None:
        """Pick up: 200 with the SDP answer, sent again until Asterisk's ACK."""
        codec = next((pt for pt in _offered_payloads(invite.body) if pt in _CODECS), None)
        if codec is None:
            raise AssertionError(f"no PCMU/PCMA in Asterisk's offer:\n{invite.body}")
        self.dialog = dialog = _Dialog(invite, self.tag, codec)
        ok = self._reply(
            invite,
            200,
            "OK",
            extra=[
                f"Contact: <sip:{self.phone.extension}@127.0.0.1:{self.port}>",
                "Content-Type: application/sdp",
            ],
            body=self._sdp("sendrecv"),
        )
        self._answers[dialog.call_id] = ok
        for _resend in range(8):  # T1 = 0.5 s: well within Asterisk's 32 s
            if dialog.acked.wait(0.5):
                return
            self.sock.sendto(ok, self.phone.server)
        raise AssertionError("Asterisk never acknowledged the answer")

    def hold(self) -> SipMessage:
        """Put the call on hold: re-INVITE with a=sendonly; Asterisk's 200."""
        return self._reinvite("sendonly")

    def resume(self) -> SipMessage:
        """Take the call off hold: re-INVITE with a=sendrecv; Asterisk's 200."""
        return self._reinvite("sendrecv")

    def dialog_ended(self, timeout: float = 10.0) -> None:
        """Wait for Asterisk's BYE (the other side hung up)."""
        if not self._dialog().ended_by_far_end.wait(timeout):
            raise AssertionError(f"Asterisk sent no BYE in {timeout} s")

    def hang_up(self) -> SipMessage:
        """BYE; Asterisk's final response."""
        return self._in_dialog("BYE", [])

    # -- inside a dialog ----------------------------------------------------------------

    def _reinvite(self, direction: str) -> SipMessage:
        dialog = self._dialog()
        dialog.sdp_version += 1
        dialog.direction = direction
        response = self._in_dialog(
            "INVITE",
            [
                f"Contact: <sip:{self.phone.extension}@127.0.0.1:{self.port}>",
                "Content-Type: application/sdp",
            ],
            self._sdp(direction),
        )
        if response.status != 200:
            raise AssertionError(f"re-INVITE ({direction}) answered {response.first_line}")
        # The ACK of a 2xx is a transaction of its own, with the INVITE's CSeq number.
        self._send(
            "ACK", dialog.remote_target, [*self._dialog_headers(dialog), f"CSeq: {dialog.cseq} ACK"]
        )
        return response

    def _in_dialog(self, method: str, extra: list[str], body: str = "") -> SipMessage:
        dialog = self._dialog()
        authorization = ""
        for _attempt in (1, 2):
            dialog.cseq += 1
            headers = [*self._dialog_headers(dialog), f"CSeq: {dialog.cseq} {method}", *extra]
            if authorization:
                headers.append(authorization)
            response = self._transaction(method, dialog.remote_target, headers, body)
            challenge = response.get("www-authenticate") or response.get("proxy-authenticate")
            if response.status not in (401, 407) or not challenge or authorization:
                return response
            if method == "INVITE":
                self._send(
                    "ACK",
                    dialog.remote_target,
                    [*self._dialog_headers(dialog), f"CSeq: {dialog.cseq} ACK"],
                )
            name = "Authorization" if response.status == 401 else "Proxy-Authorization"
            authorization = f"{name}: {self._digest(challenge, method, dialog.remote_target)}"
        return response

    def _dialog(self) -> _Dialog:
        if self.dialog is None:
            raise AssertionError("the phone has no call")
        return self.dialog

    def _dialog_headers(self, dialog: _Dialog) -> list[str]:
        # We are the called party: our From is the INVITE's To (with our tag), and back.
        return [
            f"From: {dialog.invite.get('to')};tag={dialog.local_tag}",
            f"To: {dialog.invite.get('from')}",
            f"Call-ID: {dialog.call_id}",
        ]

    def _sdp(self, direction: str) -> str:
        dialog = self._dialog()
        codec = dialog.codec
        return "\r\n".join(
            [
                "v=0",
                f"o=- 4242 {dialog.sdp_version} IN IP4 127.0.0.1",
                "s=callcards test phone",
                "c=IN IP4 127.0.0.1",
                "t=0 0",
                f"m=audio {self.media.getsockname()[1]} RTP/AVP {codec}",
                f"a=rtpmap:{codec} {_CODECS[codec]}",
                f"a={direction}",
                "",
            ]
        )

    # -- the wire -----------------------------------------------------------------------

    def _digest(self, challenge: str, method: str, uri: str) -> str:
        """The answer to an MD5 digest challenge (qop=auth when offered)."""
        params = {m[1]: m[2] or m[3] for m in _CHALLENGE_PARAM.finditer(challenge)}
        ha1 = _md5(f"{self.phone.extension}:{params['realm']}:{self.phone.password}")
        ha2 = _md5(f"{method}:{uri}")
        fields = {
            "username": self.phone.extension,
            "realm": params["realm"],
            "nonce": params["nonce"],
            "uri": uri,
            "algorithm": "MD5",
        }
        if "auth" in params.get("qop", "").split(","):
            cnonce, count = secrets.token_hex(8), "00000001"
            fields["response"] = _md5(f"{ha1}:{params['nonce']}:{count}:{cnonce}:auth:{ha2}")
            quoted = ", ".join(f'{key}="{value}"' for key, value in fields.items())
            answer = f'Digest {quoted}, qop=auth, nc={count}, cnonce="{cnonce}"'
        else:
            fields["response"] = _md5(f"{ha1}:{params['nonce']}:{ha2}")
            answer = "Digest " + ", ".join(f'{key}="{value}"' for key, value in fields.items())
        if "opaque" in params:
            answer += f', opaque="{params["opaque"]}"'
        return answer

    def _send(self, method: str, uri: str, headers: list[str], body: str = "") -> str:
        """Send a request; its Via branch."""
        branch = f"z9hG4bK{secrets.token_hex(8)}"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch={branch}",
            "Max-Forwards: 70",
            *headers,
            "User-Agent: callcards-test-phone",
            f"Content-Length: {len(body.encode())}",
            "",
            body,
        ]
        self.sock.sendto("\r\n".join(lines).encode(), self.phone.server)
        return branch

    def _transaction(self, method: str, uri: str, headers: list[str], body: str = "") -> SipMessage:
        """Send a request; its final response (1xx skipped, sent again after T1 while silent)."""
        cseq = next(h for h in headers if h.startswith("CSeq:")).split()[1]
        for _resend in range(int(self.phone.timeout / 0.5)):
            self._send(method, uri, headers, body)
            try:
                while True:
                    response = self._responses.get(timeout=0.5)
                    same = response.get("cseq") == f"{cseq} {method}"
                    if same and response.status >= 200:
                        return response
                    if same:  # a provisional answer: no resending, wait for the final one
                        return self._final(cseq, method)
            except queue.Empty:
                continue
        raise TimeoutError(f"Asterisk did not answer {method} in {self.phone.timeout} s")

    def _final(self, cseq: str, method: str) -> SipMessage:
        while True:
            response = self._responses.get(timeout=self.phone.timeout)
            if response.get("cseq") == f"{cseq} {method}" and response.status >= 200:
                return response

    def _reply(
        self,
        request: SipMessage,
        status: int,
        reason: str,
        *,
        extra: Sequence[str] = (),
        body: str = "",
    ) -> bytes:
        to = request.get("to")
        if status > 100 and ";tag=" not in to:
            to += f";tag={self.tag}"
        lines = [
            f"SIP/2.0 {status} {reason}",
            *(f"Via: {via}" for via in request.every("via")),
            f"From: {request.get('from')}",
            f"To: {to}",
            f"Call-ID: {request.get('call-id')}",
            f"CSeq: {request.get('cseq')}",
            *extra,
            f"Content-Length: {len(body.encode())}",
            "",
            body,
        ]
        data = "\r\n".join(lines).encode()
        self.sock.sendto(data, self.phone.server)
        return data

    def _read(self) -> None:
        """Answer Asterisk's requests; hand responses to whoever waits for them."""
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            message = _parse(data)
            if not message.is_request:
                self._responses.put(message)
            else:
                self._request(message)

    def _request(self, request: SipMessage) -> None:
        dialog, method, call_id = self.dialog, request.method, request.get("call-id")
        if dialog is not None and call_id != dialog.call_id:
            dialog = None
        if method == "INVITE" and ";tag=" not in request.get("to"):
            if call_id in self._answers:  # our 200 crossed its retransmission
                self.sock.sendto(self._answers[call_id], self.phone.server)
            elif call_id in self._rung:
                self._reply(request, 180, "Ringing")
            else:
                self._rung.add(call_id)
                self._reply(request, 100, "Trying")
                self._reply(request, 180, "Ringing")
                self._invites.put(request)
        elif method == "INVITE" and dialog is not None:  # Asterisk's re-INVITE: as we are
            self._reply(
                request,
                200,
                "OK",
                body=self._sdp(dialog.direction),
                extra=[
                    f"Contact: <sip:{self.phone.extension}@127.0.0.1:{self.port}>",
                    "Content-Type: application/sdp",
                ],
            )
        elif method == "ACK":
            if dialog is not None:
                dialog.acked.set()
        elif method == "BYE" and dialog is not None:
            self._reply(request, 200, "OK")
            dialog.ended_by_far_end.set()
        else:  # OPTIONS (qualify), NOTIFY...
            self._reply(request, 200, "OK")


def _offered_payloads(sdp: str) -> list[str]:
    """The RTP payload types of the SDP's audio line, in the offerer's order."""
    for line in sdp.splitlines():
        if line.startswith("m=audio "):
            return line.split()[3:]
    return []
