"""The browser is the operator's phone: Chromium registers over WS and takes real queue calls.

operator1 (extension 101, phone type "browser") gets a phone password on the staff site; the
queues ring PJSIP/101. Chromium signs in to the workspace, whose phone (static/phone.js,
JsSIP) registers with the sandbox Asterisk over ws://127.0.0.1; a call placed through the
trunk context rings the page, the operator answers there, and the card, the recording and
the page's own RTCPeerConnection say what happened. Media stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings
from callcards.sandbox import SandboxInfo
from models import Call, PhoneType, User, utcnow
from models.session import make_session_factory
from pbx.apply import apply_queues
from pbx.endpoints import apply_endpoints
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver, TestCall
from tests.card_polling import wait_card
from tests.sandbox_site import make_phone_password, sandbox_settings
from tests.softphone import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOOPBACK_ONLY,
    Capture,
    Packet,
    TcpRelay,
    call_stats,
    loopback_udp_preload,
    rms,
    send_on_sip_websocket,
    serve,
    write_mic_tone,
)
from tests.test_calls_asterisk import (
    CALLER,
    DID,
    kinds,
    queue_report_now,
    reach_menu_and_press,
    report_change,
)
from webadmin import create_app

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

SECRET_KEY = "softphone-tests-secret"  # noqa: S105 - the test site's own
#: sox RMS amplitude above which a stretch of the recording is sound, not silence.
SOUND_FLOOR = 0.01
#: Seconds cut from each side of a measured stretch (the marks are taken over AMI and CDP).
MARGIN = 0.4


@pytest.fixture
def phone_settings(database_url: str, asterisk_sandbox: SandboxInfo) -> Settings:
    """The site next to the sandbox, with the browser phone on its WebSocket."""
    assert asterisk_sandbox.ws_url is not None
    return sandbox_settings(
        asterisk_sandbox,
        database_url,
        secret_key=SECRET_KEY,
        phone_wss_url=asterisk_sandbox.ws_url,
        recordings_dir=Path(asterisk_sandbox.recordings_dir),
    )


@pytest.fixture
def admin_site(phone_settings: Settings) -> FlaskClient:
    """The admin's site (a test client, no CSRF) on the same settings."""
    app = create_app(phone_settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"login": "admin", "password": "admin"}).status_code == 302
    client.post("/locale", data={"locale": "en"})
    return client


@pytest.fixture
def site_url(phone_settings: Settings) -> Iterator[str]:
    """The site as the operator's Chromium sees it (CSRF on, as in production)."""
    # The page asks for its credentials every 2 s (30 s in production): a rotation shows soon.
    with serve(create_app(phone_settings, {"TESTING": True, "PHONE_CHECK_MS": 2000})) as url:
        yield url


@pytest.fixture
def browser_phone(
    engine: Engine, admin_site: FlaskClient, phone_settings: Settings
) -> Iterator[User]:
    """operator1 (101) and operator2 (102) with browser phones the queues ring; operator1.

    Afterwards both without a phone, and the queues' members Local test operators again.
    """
    sessions = make_session_factory(engine)
    with sessions() as session:
        users = [
            session.scalar(select(User).where(User.login == login))
            for login in ("operator1", "operator2")
        ]
        assert [user.extension if user else None for user in users] == ["101", "102"]
        for user in users:
            assert user is not None
            user.phone_type = PhoneType.WEBRTC.value
            session.commit()
            make_phone_password(admin_site, user)
        ringing_phones = replace(phone_settings, member_interface="PJSIP/{extension}")
        assert apply_queues(session, ringing_phones).ok
        first = users[0]
        assert first is not None
        session.expunge(first)
    yield first
    with sessions() as session:
        for login in ("operator1", "operator2"):
            back = session.scalar(select(User).where(User.login == login))
            assert back is not None
            back.sip_password_digest, back.sip_password_set_at = None, None
        session.commit()
        assert apply_endpoints(session, phone_settings).ok
        assert apply_queues(session, phone_settings).ok  # Local test operators again


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess, open_clinic: None
) -> AsyncIterator[AsteriskDriver]:
    """An AMI session on the sandbox with the FastAGI server (and its listener) up."""
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.set_global("CC_TEST_TALK_TIME", "600")
        yield driver
        # A test that failed mid-call leaves no channel behind to keep 101 busy.
        await driver.command("channel request hangup all")


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[Any]:
    """Debian's Chromium with a fake microphone playing a steady tone, WebRTC on loopback."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/test.sh (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    tone = write_mic_tone(tmp_path / "mic.wav")
    preload = loopback_udp_preload(tmp_path)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={tone}"],
            env={**os.environ, "LD_PRELOAD": str(preload)},
        )
        yield browser
        await browser.close()


async def operator_page(chromium: Any, site_url: str, login: str = "operator1") -> Any:
    """A new browser (context) signed in to the workspace as `login`, in English."""
    context = await chromium.new_context(base_url=site_url, locale="en-GB")
    await context.add_init_script(LOOPBACK_ONLY)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#login", login)
    await page.fill("#password", login)
    await page.click("button.primary")
    await page.wait_for_selector("#phone")
    return page


async def phone_state(page: Any, state: str, timeout: float = 15) -> None:
    """Wait until the page's phone is in `state` (its data-state)."""
    await page.wait_for_selector(f'#phone[data-state="{state}"]', timeout=timeout * 1000)


async def test_operator_answers_a_queue_call_in_the_browser_with_sound_both_ways(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    sessions: sessionmaker[Session],
    asterisk_sandbox: SandboxInfo,
) -> None:
    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    assert "101" in await page.inner_text("#phone-state")

    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "1")
    await ami.wait_for_application(call, "MixMonitor")
    recording_started = time.monotonic()
    await phone_state(page, "ringing")
    # The ring pops the call's card on the same page.
    await page.wait_for_selector("#popped-card", timeout=5000)
    await page.click("#phone-answer")
    await phone_state(page, "incall")
    await ami.wait_for_operator(call, "appointments")

    # The operator speaks (the fake microphone's tone); the caller is silent.
    operator_from = time.monotonic() - recording_started
    await asyncio.sleep(2.5)
    operator_to = time.monotonic() - recording_started
    heard_before = await call_stats(page)
    # The caller speaks while the operator is muted.
    await page.click("#phone-mute")
    await page.wait_for_selector('#phone-mute[aria-pressed="true"]')
    since = len(ami.events)
    await ami.talk(call, "tt-monkeys")
    await ami.wait_for(
        lambda e: (
            e.event == "Newexten" and e.uniqueid == call.channel_id and e.application == "Playback"
        ),
        since=since,
    )
    caller_from = time.monotonic() - recording_started
    await asyncio.sleep(2.5)
    caller_to = time.monotonic() - recording_started
    heard = await call_stats(page)
    await page.click("#phone-hangup")
    card = await wait_card(sessions, call.linkedid)
    await phone_state(page, "registered")

    # Media went between 127.0.0.1 and 127.0.0.1, in Opus or G.711.
    assert (heard.local, heard.remote) == ("127.0.0.1", "127.0.0.1"), heard
    assert heard.codec in ("audio/opus", "audio/PCMA", "audio/PCMU")
    # The page heard the caller: more audio energy came in while the caller spoke.
    assert heard.energy > heard_before.energy
    # The card is a desk phone's card.
    assert (card.status, card.end_reason, card.queue) == (
        "answered",
        "operator_hangup",
        "appointments",
    )
    assert card.operator_id == browser_phone.id
    assert card.talk_sec is not None and card.talk_sec >= 5
    assert card.recording_state == "ok" and card.recording_path
    recording = Path(asterisk_sandbox.recordings_dir) / card.recording_path
    # Both sides are in the recording: the operator's tone, then the caller's sound.
    operator_rms = rms(recording, operator_from + MARGIN, operator_to - operator_from - 2 * MARGIN)
    caller_rms = rms(recording, caller_from + MARGIN, caller_to - caller_from - 2 * MARGIN)
    assert operator_rms > SOUND_FLOOR, f"operator side silent (RMS {operator_rms})"
    assert caller_rms > SOUND_FLOOR, f"caller side silent (RMS {caller_rms})"


def rtp_ports(sandbox: SandboxInfo) -> tuple[int, int]:
    """The sandbox's RTP port range (rtp.conf rtpstart, rtpend)."""
    conf = (sandbox.etc_dir / "rtp.conf").read_text()
    start, end = (re.search(rf"^{key}\s*=\s*(\d+)", conf, re.M) for key in ("rtpstart", "rtpend"))
    assert start and end, conf
    return int(start.group(1)), int(end.group(1))


LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def on_loopback(packet: Packet) -> bool:
    """The packet went from 127.0.0.0/8 to 127.0.0.0/8."""
    return all(
        ipaddress.ip_address(address) in LOOPBACK
        for address in (packet.source[0], packet.destination[0])
    )


async def test_a_browser_call_sends_packets_between_loopback_addresses_only(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    asterisk_sandbox: SandboxInfo,
    tmp_path: Path,
) -> None:
    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    # Every interface, the sandbox's own ports: the site, AMI, SIP (UDP and WebSocket), RTP.
    assert asterisk_sandbox.ws_port is not None and asterisk_sandbox.sip_port is not None
    rtp_start, rtp_end = rtp_ports(asterisk_sandbox)
    site_port = urlsplit(site_url).port
    tcp_ports = (asterisk_sandbox.ws_port, site_port, asterisk_sandbox.ami_port)
    bpf = " or ".join(
        [f"tcp port {port}" for port in tcp_ports]
        + [f"udp port {asterisk_sandbox.sip_port}", f"udp portrange {rtp_start}-{rtp_end}"]
    )
    with Capture(tmp_path / "call.pcap", bpf) as capture:
        call = await answered_in_browser(ami, page)
        await asyncio.sleep(2.0)  # the operator's tone goes to Asterisk over RTP
        stats = await call_stats(page)
        await page.click("#phone-hangup")
        await phone_state(page, "registered")
        await ami.wait_hungup(call)
    packets = capture.packets

    assert (stats.local, stats.remote) == ("127.0.0.1", "127.0.0.1"), stats
    # The call's packets: its SIP over the WebSocket (and the site, AMI), and its media: UDP
    # to or from the RTP port Asterisk gave the call (others in the range are not this call's,
    # e.g. a DNS query whose random source port fell there).
    signalling = [p for p in packets if p.protocol == "tcp"]
    media = [
        p
        for p in packets
        if p.protocol == "udp" and stats.remote_port in (p.source[1], p.destination[1])
    ]
    # Something was captured: the capture cannot pass empty.
    assert any(asterisk_sandbox.ws_port in (p.source[1], p.destination[1]) for p in signalling)
    assert len(media) > 50, len(media)
    # And every one went from 127.0.0.0/8 to 127.0.0.0/8: SIP, the site, ICE checks, DTLS,
    # SRTP (Chromium's own address never takes part: its sockets are bound to loopback).
    elsewhere = [p for p in signalling + media if not on_loopback(p)]
    assert elsewhere == [], elsewhere[:5]


async def registered_contacts(ami: AsteriskDriver, extension: str) -> list[str]:
    """The contacts Asterisk holds for `extension` now (pjsip show contacts)."""
    shown = await ami.command("pjsip show contacts")
    return [
        line.split()[1]
        for line in shown.splitlines()
        if line.strip().startswith("Contact:") and line.split()[1].startswith(f"{extension}/")
    ]


async def wait_contacts(
    ami: AsteriskDriver, extension: str, count: int, timeout: float = 15
) -> None:
    """Until Asterisk holds `count` contacts for `extension`."""
    deadline = time.monotonic() + timeout
    while len(found := await registered_contacts(ami, extension)) != count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{extension} has contacts {found}, not {count}")
        await asyncio.sleep(0.2)


async def answered_in_browser(ami: AsteriskDriver, page: Any) -> TestCall:
    """A caller presses 1 for appointments; the browser rings and the operator answers there."""
    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "1")
    await phone_state(page, "ringing")
    await page.click("#phone-answer")
    await phone_state(page, "incall")
    await ami.wait_for_operator(call, "appointments")
    return call


async def two_operators(chromium: Any, site_url: str) -> tuple[Any, Any]:
    """operator1's and operator2's workspaces (two browsers), both phones registered."""
    first = await operator_page(chromium, site_url, "operator1")
    colleague = await operator_page(chromium, site_url, "operator2")
    await phone_state(first, "registered")
    await phone_state(colleague, "registered")
    return first, colleague


@asynccontextmanager
async def queues_split(ami: AsteriskDriver) -> AsyncIterator[None]:
    """Meanwhile appointments rings only operator1 (101) and reception only operator2 (102)."""
    await ami.queue_pause("appointments", "PJSIP/102", True, "test")
    await ami.queue_pause("reception", "PJSIP/101", True, "test")
    try:
        yield
    finally:
        await ami.queue_pause("appointments", "PJSIP/102", False)
        await ami.queue_pause("reception", "PJSIP/101", False)


async def test_operator_holds_resumes_and_sends_dtmf_from_the_browser(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    sessions: sessionmaker[Session],
) -> None:
    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    call = await answered_in_browser(ami, page)

    since = len(ami.events)
    await page.click('#phone-dtmf button[data-digit="5"]')
    await ami.wait_for(
        lambda e: (
            e.event == "DTMFEnd" and e.digit == "5" and str(e.channel).startswith("PJSIP/101-")
        ),
        since=since,
    )

    await page.click("#phone-hold")
    await phone_state(page, "held")
    await wait_card(sessions, call.linkedid, lambda card: "hold" in kinds(card))
    await asyncio.sleep(2.0)  # the caller hears music on hold
    await page.click("#phone-hold")
    await phone_state(page, "incall")
    await wait_card(sessions, call.linkedid, lambda card: "unhold" in kinds(card))
    await page.click("#phone-hangup")
    card = await wait_card(sessions, call.linkedid)

    assert (card.status, card.end_reason) == ("answered", "operator_hangup")
    assert card.hold_sec is not None and 1 <= card.hold_sec <= 4
    holds = [event for event in card.events if event.kind in ("hold", "unhold")]
    assert all(event.data["channel"].startswith("PJSIP/101-") for event in holds)


async def test_a_page_left_open_after_sign_out_ends_its_registration(
    ami: AsteriskDriver, browser_phone: User, chromium: Any, site_url: str
) -> None:
    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    await wait_contacts(ami, "101", 1)
    # The operator signs out in another tab of the same browser.
    other = await page.context.new_page()
    await other.goto("/")
    await other.click("form[action$='/logout'] button")
    await other.wait_for_selector("#login")
    await wait_contacts(ami, "101", 0)
    await page.wait_for_selector("#login")  # the open page shows the sign-in page too


async def test_a_second_browser_is_told_the_phone_is_open_elsewhere(
    ami: AsteriskDriver, browser_phone: User, chromium: Any, site_url: str
) -> None:
    first = await operator_page(chromium, site_url)
    await phone_state(first, "registered")
    second = await operator_page(chromium, site_url)
    await phone_state(second, "failed")
    # In the operator's language (operator1 reads Russian).
    assert "уже открыт в другом браузере" in await second.inner_text("#phone-state")
    await wait_contacts(ami, "101", 1)
    await phone_state(first, "registered")  # the first keeps the calls
    # Once the first browser is closed, the second takes over after a reload.
    await first.context.close()
    await wait_contacts(ami, "101", 0)
    await second.reload()
    await phone_state(second, "registered")


async def test_a_wrong_password_is_said_on_the_page(
    ami: AsteriskDriver, browser_phone: User, chromium: Any, site_url: str
) -> None:
    context = await chromium.new_context(base_url=site_url, locale="en-GB")
    await context.add_init_script(LOOPBACK_ONLY)
    page = await context.new_page()

    async def stale_password(route: Any) -> None:
        # What a page holding a retired password would send: the site's answer, one letter off.
        answer = await route.fetch()
        phone = await answer.json()
        phone["password"] = phone["password"][:-1] + ("x" if phone["password"][-1] != "x" else "y")
        await route.fulfill(response=answer, json=phone)

    await page.route("**/workspace/phone", stale_password)
    await page.goto("/login")
    await page.fill("#login", "operator1")
    await page.fill("#password", "operator1")
    await page.click("button.primary")
    await phone_state(page, "failed")
    assert "не принял пароль телефона" in await page.inner_text("#phone-state")
    assert await registered_contacts(ami, "101") == []


async def test_a_malformed_sip_message_leaves_asterisk_and_the_phone_working(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    asterisk_sandbox: SandboxInfo,
) -> None:
    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    assert asterisk_sandbox.ws_url is not None
    for garbage in (
        b"REGISTER\r\n\r\n",
        b"\x00\xff not sip at all",
        b"INVITE sip:101@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0",
    ):
        await asyncio.to_thread(send_on_sip_websocket, asterisk_sandbox.ws_url, garbage)
    assert "uptime" in (await ami.command("core show uptime")).lower()
    await answered_in_browser(ami, page)
    await page.click("#phone-hangup")
    await phone_state(page, "registered")


async def test_blind_transfer_from_one_browser_to_a_colleague_s_browser(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    sessions: sessionmaker[Session],
) -> None:
    first, colleague = await two_operators(chromium, site_url)
    async with queues_split(ami):  # only operator1 serves appointments: it rings the first
        call = await answered_in_browser(ami, first)
    await first.fill("#phone-transfer-to", "102")
    await first.click("#phone-blind-transfer")
    await phone_state(colleague, "ringing")
    await colleague.click("#phone-answer")
    await phone_state(colleague, "incall")
    await phone_state(first, "registered")  # the first operator is free again
    stats = await call_stats(colleague)
    assert (stats.local, stats.remote) == ("127.0.0.1", "127.0.0.1"), stats
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)
    await phone_state(colleague, "registered")
    assert (card.status, card.end_reason) == ("answered", "caller_hangup")
    assert card.operator_id == browser_phone.id  # the card keeps the first operator


def queue_log_of(log: Path, callid: str) -> list[tuple[str, str, str, list[str]]]:
    """What queue_log says of one caller (queue, agent, event, data), in order.

    Lines are time|callid|queue|agent|event|data...; the callid is the uniqueid of the
    channel running Queue() (a test call's dialplan half).
    """
    said = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split("|")
        if len(fields) >= 5 and fields[1] == callid:
            said.append((fields[2], fields[3], fields[4], fields[5:]))
    return said


async def test_blind_transfer_from_the_browser_into_another_queue_reaches_its_operator(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    sessions: sessionmaker[Session],
    asterisk_sandbox: SandboxInfo,
) -> None:
    first, colleague = await two_operators(chromium, site_url)
    report_before = queue_report_now(sessions)
    async with queues_split(ami):
        call = await answered_in_browser(ami, first)
        await first.fill("#phone-transfer-to", "reception")
        await first.click("#phone-blind-transfer")
        await phone_state(colleague, "ringing")
        await colleague.click("#phone-answer")
        await phone_state(colleague, "incall")
        await ami.wait_for_operator(call, "reception")
    await phone_state(first, "registered")  # the first operator is free again
    card = await colleague_talks_then_caller_hangs_up(ami, call, colleague, sessions)

    # Asterisk's own account: answered by 101 in appointments, blind-transferred to
    # reception, answered there by 102.
    said = queue_log_of(asterisk_sandbox.log_dir / "queue_log", call.dialplan_id)
    transfers = [(queue, data[0]) for queue, _, event, data in said if event == "BLINDTRANSFER"]
    assert transfers == [("appointments", "reception")], said
    # The card says the same: one card, the transfer leg, the queue and operator that ended it.
    in_reception_as_queue_log_says(card, said, sessions, report_before)
    moved = [e.data for e in card.events if e.kind == "transferred"]
    assert [(m["from_queue"], m["to_queue"]) for m in moved] == transfers
    with sessions() as session:
        cards = session.scalars(
            select(Call).where(Call.src_number == CALLER, Call.started_at >= card.started_at)
        ).all()
    assert [c.id for c in cards] == [card.id]


async def colleague_talks_then_caller_hangs_up(
    ami: AsteriskDriver, call: TestCall, colleague: Any, sessions: sessionmaker[Session]
) -> Call:
    """The transferred caller talks to the colleague's browser (on loopback), then hangs up."""
    stats = await call_stats(colleague)
    assert (stats.local, stats.remote) == ("127.0.0.1", "127.0.0.1"), stats
    await asyncio.sleep(1.0)
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)
    await phone_state(colleague, "registered")
    return card


def in_reception_as_queue_log_says(
    card: Call,
    said: list[tuple[str, str, str, list[str]]],
    sessions: sessionmaker[Session],
    report_before: dict[str | None, tuple[int, int, int]],
) -> None:
    """queue_log (`said`) has 101 answer in appointments, 102 in reception; the card and the
    queue report (against `report_before`) too: one call, answered in each queue."""
    connects = [(queue, agent) for queue, agent, event, _ in said if event == "CONNECT"]
    assert [queue for queue, _ in connects] == ["appointments", "reception"], said
    assert (card.status, card.end_reason, card.queue) == ("answered", "caller_hangup", "reception")
    answers = [
        (e.data["extension"], e.data["operator"]) for e in card.events if e.kind == "answered"
    ]
    assert [extension for extension, _ in answers] == ["101", "102"]
    assert [operator for _, operator in answers] == [agent for _, agent in connects]
    with sessions() as session:
        operator2 = session.scalar(select(User).where(User.login == "operator2"))
        assert operator2 is not None and card.operator_id == operator2.id
    assert report_change(report_before, queue_report_now(sessions)) == {
        "appointments": (1, 1, 0),
        "reception": (1, 1, 0),
        "All queues": (1, 1, 0),
    }


async def test_attended_transfer_after_talking_to_the_colleague_first(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    sessions: sessionmaker[Session],
) -> None:
    first, colleague = await two_operators(chromium, site_url)
    async with queues_split(ami):  # only operator1 serves appointments: it rings the first
        call = await answered_in_browser(ami, first)
    await first.fill("#phone-transfer-to", "102")
    await first.click("#phone-attended-start")
    await phone_state(first, "held")
    await phone_state(colleague, "ringing")
    await colleague.click("#phone-answer")
    await phone_state(colleague, "incall")
    await first.wait_for_selector("#phone-attended-complete:not([hidden])")
    await first.click("#phone-attended-complete")
    await phone_state(first, "registered")  # both of the first operator's calls ended
    await phone_state(colleague, "incall")  # now with the caller
    stats = await call_stats(colleague)
    assert (stats.local, stats.remote) == ("127.0.0.1", "127.0.0.1"), stats
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)
    await phone_state(colleague, "registered")
    assert (card.status, card.end_reason) == ("answered", "caller_hangup")


async def test_attended_transfer_into_another_queue_after_talking_to_its_operator(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    sessions: sessionmaker[Session],
    asterisk_sandbox: SandboxInfo,
) -> None:
    first, colleague = await two_operators(chromium, site_url)
    report_before = queue_report_now(sessions)
    async with queues_split(ami):
        call = await answered_in_browser(ami, first)
        # The operator calls the reception queue, the caller on hold, and talks to whoever
        # answers there before handing the caller over.
        await first.fill("#phone-transfer-to", "reception")
        await first.click("#phone-attended-start")
        await phone_state(first, "held")
        await phone_state(colleague, "ringing")
        await colleague.click("#phone-answer")
        await phone_state(colleague, "incall")
    await first.wait_for_selector("#phone-attended-complete:not([hidden])")
    since = len(ami.events)
    await first.click("#phone-attended-complete")
    await phone_state(first, "registered")  # both of the first operator's calls ended
    await phone_state(colleague, "incall")  # now with the caller
    _, moved = await ami.wait_for(lambda e: e.event == "AttendedTransfer", since=since)
    card = await colleague_talks_then_caller_hangs_up(ami, call, colleague, sessions)

    # Asterisk's account: the caller answered by 101 in appointments and handed over by an
    # attended transfer; the consultation (101's second call) answered by 102 in reception.
    log = asterisk_sandbox.log_dir / "queue_log"
    said = queue_log_of(log, call.dialplan_id)
    consulted = queue_log_of(log, moved.secondtransfereruniqueid)
    assert [queue for queue, _, event, _ in said if event == "ATTENDEDTRANSFER"] == ["appointments"]
    # The card says the same: the move, the queue it ended in, the operator who took it.
    in_reception_as_queue_log_says(card, said + consulted, sessions, report_before)
    moves = [e.data for e in card.events if e.kind == "transferred"]
    assert moves == [
        {"from_queue": "appointments", "to_queue": "reception", "reason": "attended_transfer"}
    ]
    assert "queue_from_dialplan" not in kinds(card)  # the dialplan agreed: reception
    with sessions() as session:
        # The consultation is an operator's call: no card of its own.
        assert (
            session.scalar(select(Call).where(Call.linkedid == moved.secondtransfererlinkedid))
            is None
        )


async def test_the_phone_registers_again_by_itself_after_asterisk_restarts(
    asterisk_sandbox: SandboxInfo,
    agi_server: AgiProcess,
    open_clinic: None,
    browser_phone: User,
    chromium: Any,
    site_url: str,
) -> None:
    from callcards import sandbox

    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    await page.evaluate("""() => {
      window.phoneStates = [];
      new MutationObserver(() => window.phoneStates.push(
        document.getElementById('phone').getAttribute('data-state')))
        .observe(document.getElementById('phone'), {attributes: true});
    }""")
    # Stopped and started again, as a server restart does (its sockets close).
    new_pid = await asyncio.to_thread(sandbox.restart)
    # The session's SandboxInfo goes on describing the Asterisk that runs (tests read its pid).
    object.__setattr__(asterisk_sandbox, "pid", new_pid)
    # The page noticed (it left "registered") and came back by itself.
    await page.wait_for_function(
        "() => window.phoneStates.some(state => state !== 'registered')", timeout=30000
    )
    await phone_state(page, "registered", timeout=45)
    # Registered for real: a call after the restart rings this page.
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as ami:
        await answered_in_browser(ami, page)
        await page.click("#phone-hangup")
        await phone_state(page, "registered")


async def test_the_phone_registers_again_by_itself_after_its_network_drops(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    phone_settings: Settings,
    asterisk_sandbox: SandboxInfo,
) -> None:
    # The page reaches Asterisk's WebSocket through a relay on loopback: the test's network.
    assert asterisk_sandbox.ws_port is not None
    relay = TcpRelay(asterisk_sandbox.ws_port)
    through_relay = replace(phone_settings, phone_wss_url=f"ws://127.0.0.1:{relay.port}/ws")
    try:
        with serve(create_app(through_relay, {"TESTING": True, "PHONE_CHECK_MS": 2000})) as url:
            page = await operator_page(chromium, url)
            await phone_state(page, "registered")
            await wait_contacts(ami, "101", 1)
            relay.cut()  # every packet of the WebSocket is lost, and the next connections too
            await phone_state(page, "reconnecting")
            assert "потерял связь" in await page.inner_text("#phone-state")
            # Asterisk lets go of the contact whose connection went (its transport closed).
            await wait_contacts(ami, "101", 0)
            await asyncio.sleep(3.0)  # JsSIP's retries meet a dead network meanwhile
            assert await page.get_attribute("#phone", "data-state") == "reconnecting"
            connections = relay.accepted
            relay.restore()
            await phone_state(page, "registered", timeout=30)
            assert relay.accepted > connections  # a new WebSocket, opened by the page itself
            await wait_contacts(ami, "101", 1)
            # Registered for real: a queue call rings this page and is answered there.
            await answered_in_browser(ami, page)
            await page.click("#phone-hangup")
            await phone_state(page, "registered")
    finally:
        relay.close()


async def test_operator_dials_out_from_the_browser_and_a_number_outside_the_plan_is_refused(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    sessions: sessionmaker[Session],
) -> None:
    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    # One digit is no number operators may dial ([from-operators] has no such extension).
    await page.fill("#phone-number", "5")
    await page.click("#phone-dial")
    await page.wait_for_function(
        "() => document.getElementById('phone').dataset.state === 'registered'"
        " && document.getElementById('phone-state').textContent.includes('Звонок не прошёл')"
    )

    number = "84951112233"
    await page.fill("#phone-number", number)
    await page.click("#phone-dial")
    await phone_state(page, "incall")  # the test PSTN answers
    stats = await call_stats(page)
    assert (stats.local, stats.remote) == ("127.0.0.1", "127.0.0.1"), stats
    await page.click("#phone-hangup")
    await phone_state(page, "registered")
    deadline = time.monotonic() + 20
    while True:
        with sessions() as session:
            card = session.scalar(
                select(Call).where(Call.dst_number == number, Call.direction == "outbound")
            )
            if card is not None and card.ended_at is not None:
                break
        assert time.monotonic() < deadline, "no closed outbound card"
        await asyncio.sleep(0.2)
    assert card.operator_id == browser_phone.id
    assert card.status == "answered" and card.recording_path


async def test_a_refused_microphone_keeps_the_phone_off_and_says_why(
    ami: AsteriskDriver, browser_phone: User, chromium: Any, site_url: str
) -> None:
    context = await chromium.new_context(base_url=site_url, locale="en-GB")
    # As when the operator answers "Block" to the browser's microphone question.
    await context.add_init_script("""
      navigator.mediaDevices.getUserMedia = () =>
        Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    """)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#login", "operator1")
    await page.fill("#password", "operator1")
    await page.click("button.primary")
    await phone_state(page, "mic-failed")
    said = await page.inner_text("#phone-state")
    assert "Микрофон недоступен" in said and "NotAllowedError" in said
    assert await registered_contacts(ami, "101") == []


async def test_a_new_phone_password_moves_the_open_page_to_it(
    ami: AsteriskDriver, browser_phone: User, chromium: Any, site_url: str, admin_site: FlaskClient
) -> None:
    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    await page.evaluate("""() => {
      window.phoneStates = [];
      new MutationObserver(() => window.phoneStates.push(
        document.getElementById('phone').getAttribute('data-state')))
        .observe(document.getElementById('phone'), {attributes: true});
    }""")
    make_phone_password(admin_site, browser_phone)  # Asterisk now holds only the new digest
    await page.wait_for_function("() => window.phoneStates.includes('registering')", timeout=15000)
    await phone_state(page, "registered")
    await wait_contacts(ami, "101", 1)
    # The page's phone works with the new password: a queue call rings it.
    await answered_in_browser(ami, page)
    await page.click("#phone-hangup")
    await phone_state(page, "registered")


async def test_click_to_call_from_a_card_to_complete_dials_the_caller_back(
    ami: AsteriskDriver,
    browser_phone: User,
    chromium: Any,
    site_url: str,
    sessions: sessionmaker[Session],
) -> None:
    caller = "84957770011"
    with sessions() as session:
        # An earlier answered call of operator1's whose card is not saved yet.
        started = utcnow() - timedelta(minutes=30)
        session.add(
            Call(
                uniqueid="cb-test.1",
                linkedid="cb-test.1",
                direction="inbound",
                status="answered",
                operator_id=browser_phone.id,
                src_number=caller,
                started_at=started,
                answered_at=started + timedelta(seconds=5),
                ended_at=started + timedelta(seconds=65),
                queue="appointments",
            )
        )
        session.commit()
    try:
        page = await operator_page(chromium, site_url)
        await phone_state(page, "registered")
        await page.click(f'[data-phone-dial="{caller}"]')
        await phone_state(page, "incall")  # the test PSTN answers
        await page.click("#phone-hangup")
        await phone_state(page, "registered")
        deadline = time.monotonic() + 20
        while True:
            with sessions() as session:
                card = session.scalar(
                    select(Call).where(Call.dst_number == caller, Call.direction == "outbound")
                )
                if card is not None and card.ended_at is not None:
                    break
            assert time.monotonic() < deadline, "no closed outbound card for the call back"
            await asyncio.sleep(0.2)
        assert card.operator_id == browser_phone.id
    finally:
        with sessions() as session:
            session.execute(delete(Call).where(Call.linkedid == "cb-test.1"))
            session.commit()
