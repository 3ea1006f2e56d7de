"""The browser phone under test: the site served next to the sandbox, Chromium on loopback only.

Chromium gets a fake microphone playing a steady tone (so the recording can tell the
operator's side from silence), `--allow-loopback-in-peer-connection`, a preload that binds its
UDP sockets to loopback (LOOPBACK_UDP_C) and a page script that offers Asterisk only its
127.0.0.1 ICE candidates: this machine may send packets to 127.0.0.0/8 only, and Chromium
gathers candidates on every interface. `Capture` (tcpdump) checks what went on the wire.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")

#: Chromium's WebRTC, kept on loopback with fake media devices and no permission prompt.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    # No name is looked up (Chromium asks the machine's DNS server for Google's hosts, an
    # address off loopback); the site and Asterisk are reached by address.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

#: The page's SDP offers/answers carry only 127.0.0.1 candidates (and address), so Asterisk
#: never learns, nor sends to, another address of this machine.
LOOPBACK_ONLY = r"""
(() => {
  const described = Object.getOwnPropertyDescriptor(RTCPeerConnection.prototype,
                                                     'localDescription');
  Object.defineProperty(RTCPeerConnection.prototype, 'localDescription', {
    configurable: true,
    get() {
      const description = described.get.call(this);
      if (!description || !description.sdp) { return description; }
      const sdp = description.sdp.split('\r\n')
        .filter(line => !line.startsWith('a=candidate:') || / 127\.0\.0\.1 /.test(line))
        .map(line => line.startsWith('c=IN IP4 ') ? 'c=IN IP4 127.0.0.1' : line)
        .map(line => line.startsWith('a=rtcp:') ? line.replace(/IN IP4 \S+/, 'IN IP4 127.0.0.1')
                                                : line)
        .join('\r\n');
      return new RTCSessionDescription({type: description.type, sdp});
    },
  });
})();
"""

#: A preload for Chromium that binds every UDP socket to loopback, whatever address it asks
#: for: WebRTC binds one socket per interface and gathers its candidate from the socket's
#: address, so every candidate is 127.0.0.1 (or ::1) and no ICE check, DTLS or RTP goes
#: from, or is answered to, the machine's own address; Chromium's other UDP (DNS, mDNS)
#: cannot leave the machine either. No Chromium switch does this (its IP-handling policies
#: choose the default route's interface, never loopback). Refusing the bind instead stalls
#: ICE gathering (the page never answers).
LOOPBACK_UDP_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *address, socklen_t length) {
  static int (*real_bind)(int, const struct sockaddr *, socklen_t);
  if (!real_bind) { real_bind = dlsym(RTLD_NEXT, "bind"); }
  int type = 0;
  socklen_t size = sizeof type;
  if (address && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_DGRAM) {
    if (address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
      struct sockaddr_in loopback;
      memcpy(&loopback, address, sizeof loopback);
      if ((ntohl(loopback.sin_addr.s_addr) >> 24) != 127) {
        loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return real_bind(fd, (const struct sockaddr *)&loopback, sizeof loopback);
      }
    } else if (address->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
      struct sockaddr_in6 loopback;
      memcpy(&loopback, address, sizeof loopback);
      if (!IN6_IS_ADDR_LOOPBACK(&loopback.sin6_addr)) {
        loopback.sin6_addr = in6addr_loopback;
        loopback.sin6_scope_id = 0;
        return real_bind(fd, (const struct sockaddr *)&loopback, sizeof loopback);
      }
    }
  }
  return real_bind(fd, address, length);
}
"""


def loopback_udp_preload(folder: Path) -> Path:
    """LOOPBACK_UDP_C built into `folder` (Debian's gcc), for Chromium's LD_PRELOAD."""
    source, library = folder / "loopback_udp.c", folder / "loopback_udp.so"
    source.write_text(LOOPBACK_UDP_C)
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"], check=True
    )
    return library


#: In the page: the selected ICE pair's two addresses, the codec, and the audio heard so far.
CALL_STATS = r"""
async () => {
  const pc = window.callcardsPhone.connection();
  if (!pc) { return null; }
  const stats = await pc.getStats();
  let pair = null, inbound = null, codec = null;
  stats.forEach(report => {
    if (report.type === 'transport' && report.selectedCandidatePairId) {
      pair = stats.get(report.selectedCandidatePairId);
    }
    if (report.type === 'inbound-rtp' && report.kind === 'audio') { inbound = report; }
  });
  if (!pair) {
    // Chromium without selectedCandidatePairId: the nominated pair that works.
    stats.forEach(report => {
      if (report.type === 'candidate-pair' && report.nominated && report.state === 'succeeded') {
        pair = report;
      }
    });
  }
  if (inbound && inbound.codecId) { codec = stats.get(inbound.codecId); }
  const local = pair ? stats.get(pair.localCandidateId) : null;
  const remote = pair ? stats.get(pair.remoteCandidateId) : null;
  return {
    local: local ? (local.address || local.ip) : null,
    remote: remote ? (remote.address || remote.ip) : null,
    remote_port: remote ? remote.port : null,
    codec: codec ? codec.mimeType : null,
    energy: inbound ? (inbound.totalAudioEnergy || 0) : 0,
    reports: pair ? [] : Array.from(stats.values()).map(r => r.type + ':' + (r.state || '')),
  };
}
"""


@dataclass(frozen=True)
class CallStats:
    """What the page's RTCPeerConnection says about the call."""

    local: str | None
    remote: str | None
    remote_port: int | None  # Asterisk's RTP port for the call
    codec: str | None
    energy: float
    # Every report's type, when no pair was found (for the assertion's message).
    reports: list[str]


async def call_stats(page: Any) -> CallStats:
    """The page's call: the selected candidate pair, the codec and the energy heard."""
    found = await page.evaluate(CALL_STATS)
    assert found is not None, "the page has no call"
    return CallStats(**found)


def write_mic_tone(path: Path, seconds: int = 120) -> Path:
    """A steady 440 Hz tone for Chromium's fake microphone (48 kHz WAV, written by sox)."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "48000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            "440",
            "vol",
            "0.5",
        ],
        check=True,
    )
    return path


def rms(path: Path, start: float, length: float) -> float:
    """sox's RMS amplitude of `length` seconds of `path` from `start` (0 = silence, 1 = full)."""
    result = subprocess.run(
        ["sox", str(path), "-n", "trim", f"{start:.2f}", f"{length:.2f}", "stat"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in result.stderr.splitlines():
        if line.startswith("RMS     amplitude:"):
            return float(line.split(":")[1])
    raise AssertionError(f"sox stat said no RMS for {path}:\n{result.stderr}")


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The site on a free loopback port, for Chromium; stopped afterwards."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def send_on_sip_websocket(url: str, payload: bytes) -> bytes:
    """Open Asterisk's SIP WebSocket (subprotocol "sip"), send `payload` as one text frame.

    What Asterisk answers first ('' when it just closes): a hostile client's view.
    """
    import base64
    import os
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            (
                f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: sip\r\n\r\n"
            ).encode()
        )
        handshake = b""
        while b"\r\n\r\n" not in handshake:
            chunk = sock.recv(4096)
            if not chunk:
                raise AssertionError(f"no WebSocket handshake: {handshake!r}")
            handshake += chunk
        assert handshake.startswith(b"HTTP/1.1 101"), handshake
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        length = len(payload)
        header = bytes([0x81])  # FIN, text
        if length < 126:
            header += bytes([0x80 | length])
        else:
            header += bytes([0x80 | 126]) + length.to_bytes(2, "big")
        sock.sendall(header + mask + masked)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


class TcpRelay:
    """A TCP relay on 127.0.0.1 in front of `upstream_port`: a network the test can cut.

    `cut()` resets every relayed connection and refuses new ones (each is reset at once), as a
    dropped network does to a WebSocket; `restore()` relays again. Both ends are loopback.
    """

    def __init__(self, upstream_port: int) -> None:
        import socket

        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[Any] = []
        self._cut = False
        self._closed = False
        #: Connections relayed so far (a reconnection shows as one more).
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    _reset(client)
                    continue
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 5)
                except OSError:
                    _reset(client)
                    continue
                self.accepted += 1
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def cut(self) -> None:
        """Reset every relayed connection; refuse new ones until `restore()`."""
        with self._lock:
            self._cut = True
            for sock in self._open:
                _reset(sock)
            self._open.clear()

    def restore(self) -> None:
        """Relay new connections again."""
        with self._lock:
            self._cut = False

    def close(self) -> None:
        """Stop relaying (the listener and every connection)."""
        self.cut()
        self._closed = True
        self._listener.close()


def _pump(source: Any, sink: Any) -> None:
    with suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    for sock in (source, sink):
        with suppress(OSError):
            sock.close()


def _reset(sock: Any) -> None:
    """End `sock` at once (SO_LINGER 0: a reset), as a dropped connection ends.

    shutdown() first: a pump thread blocked in recv() on it would otherwise keep the socket
    open (close() alone does not wake it) until the next packet.
    """
    import socket
    import struct

    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


@dataclass(frozen=True)
class Packet:
    """One captured IP packet: the interface, its protocol and its two ends (address, port)."""

    interface: str
    protocol: str  # "tcp" or "udp"
    source: tuple[str, int]
    destination: tuple[str, int]


class Capture:
    """tcpdump on every interface (`-i any`) for `bpf_filter`, while the `with` block runs."""

    def __init__(self, path: Path, bpf_filter: str) -> None:
        self.path, self.bpf_filter = path, bpf_filter
        self.packets: list[Packet] = []
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Capture:
        import shutil
        import time

        tcpdump = shutil.which("tcpdump") or "/usr/bin/tcpdump"
        if not Path(tcpdump).exists():
            raise AssertionError("tcpdump is missing: run scripts/setup.sh --test")
        log = self.path.with_suffix(".log")
        # -Z root: tcpdump would drop to its own user and could not write under pytest's tmp.
        with log.open("wb") as said:
            self._process = subprocess.Popen(
                [tcpdump, "-i", "any", "-n", "-U", "--immediate-mode", "-Z", "root"]
                + ["-w", str(self.path), self.bpf_filter],
                stdout=subprocess.DEVNULL,
                stderr=said,
            )
        deadline = time.monotonic() + 15
        while b"listening on" not in log.read_bytes():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"tcpdump did not start: {log.read_text()}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        import signal

        assert self._process is not None
        self._process.send_signal(signal.SIGINT)  # flushes the file and exits
        self._process.wait(timeout=15)
        self.packets = read_packets(self.path)


def read_packets(path: Path) -> list[Packet]:
    """The IPv4/IPv6 TCP and UDP packets of a capture file, as tcpdump reads them."""
    import re

    shown = subprocess.run(
        ["tcpdump", "-r", str(path), "-n", "-q", "-t"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # "lo    In  IP 127.0.0.1.5060 > 127.0.0.1.41000: UDP, length 120" (IP6 for IPv6).
    line_re = re.compile(
        r"^(\S+)\s+\S+\s+IP6? (\S+)\.(\d+) > (\S+)\.(\d+): (tcp|UDP)", re.IGNORECASE
    )
    packets = []
    for line in shown.splitlines():
        found = line_re.search(line)
        if found is None:
            raise AssertionError(f"a captured packet tcpdump shows as neither TCP nor UDP: {line}")
        interface, source, sport, destination, dport, protocol = found.groups()
        packets.append(
            Packet(interface, protocol.lower(), (source, int(sport)), (destination, int(dport)))
        )
    return packets
