"""Figures of the browser phone, for `callcards bench softphone` (not part of the test suite).

Run by bench/softphone.py as `pytest tests/bench_softphone.py` so it reuses the browser
tests' fixtures (the sandbox, the site, Chromium on loopback); it measures, asserts nothing
about speed, and writes its samples as JSON to $CALLCARDS_BENCH_SOFTPHONE_JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from models import User
from tests.asterisk_driver import AsteriskDriver
from tests.test_calls_asterisk import CALLER, DID, reach_menu_and_press
from tests.test_softphone_browser import (  # noqa: F401 - fixtures
    admin_site,
    ami,
    browser_phone,
    chromium,
    operator_page,
    phone_settings,
    phone_state,
    site_url,
)

#: In the page: click "Answer" and poll the call's stats until audio flows both ways (the
#: caller's sound has been played out here, and our microphone's packets have gone out);
#: milliseconds from the click, or null after 10 s.
ANSWER_TO_AUDIO = r"""
async () => {
  const clicked = performance.now();
  document.getElementById('phone-answer').click();
  while (performance.now() - clicked < 10000) {
    const pc = window.callcardsPhone.connection();
    if (pc) {
      const stats = await pc.getStats();
      let heard = 0, sent = 0;
      stats.forEach(report => {
        if (report.type === 'inbound-rtp' && report.kind === 'audio') {
          heard = report.totalAudioEnergy || 0;
        }
        if (report.type === 'outbound-rtp' && report.kind === 'audio') {
          sent = report.packetsSent || 0;
        }
      });
      if (heard > 0 && sent > 0) { return performance.now() - clicked; }
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
  return null;
}
"""

#: In the page: the wall-clock time (epoch ms) its phone saw the ring.
RANG_AT = "() => performance.timeOrigin + window.callcardsPhone.marks.ringing"

IDLE_SEC = 30


async def test_softphone_figures(
    ami: AsteriskDriver,  # noqa: F811
    browser_phone: User,  # noqa: F811
    chromium: Any,  # noqa: F811
    site_url: str,  # noqa: F811
) -> None:
    out = Path(os.environ.get("CALLCARDS_BENCH_SOFTPHONE_JSON", "softphone.json"))
    calls = int(os.environ.get("CALLCARDS_BENCH_SOFTPHONE_CALLS", "20"))
    page = await operator_page(chromium, site_url)
    await phone_state(page, "registered")
    ring_ms, audio_ms = [], []
    for _ in range(calls):
        call = await ami.call(DID, CALLER)
        await reach_menu_and_press(ami, call, "1")
        # The caller speaks from before the answer, so the first audio is there to hear.
        await ami.talk(call, "tt-monkeys")
        _, called = await ami.wait_for(
            lambda e: e.event == "AgentCalled" and str(e.interface) == "PJSIP/101", since=call.since
        )
        await phone_state(page, "ringing")
        ring_ms.append(await page.evaluate(RANG_AT) - float(called.timestamp) * 1000)
        audio_ms.append(await page.evaluate(ANSWER_TO_AUDIO))
        await page.click("#phone-hangup")
        await phone_state(page, "registered")
        await ami.wait_hungup(call)

    # One registered, idle tab: its renderer's main-thread time and the browser's memory.
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    before = await _metrics(cdp)
    started = time.monotonic()
    await asyncio.sleep(IDLE_SEC)  # the measured idle period itself
    after = await _metrics(cdp)
    wall = time.monotonic() - started
    out.write_text(
        json.dumps(
            {
                "calls": calls,
                "ring_ms": ring_ms,
                "answer_to_audio_ms": audio_ms,
                "idle_sec": round(wall, 1),
                "idle_main_thread_cpu_pct": 100
                * (after["TaskDuration"] - before["TaskDuration"])
                / wall,
                "idle_js_heap_mb": after["JSHeapUsedSize"] / 2**20,
                "browser_rss_mb": _chromium_rss_mb(),
            },
            indent=2,
        )
    )


async def _metrics(cdp: Any) -> dict[str, float]:
    reply = await cdp.send("Performance.getMetrics")
    return {metric["name"]: float(metric["value"]) for metric in reply["metrics"]}


def _chromium_rss_mb() -> float:
    """Resident memory of every Chromium process started with our fake microphone, and theirs."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    ours = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes()
            status = (proc / "status").read_text()
        except OSError:
            continue
        pid = int(proc.name)
        parents[pid] = int(stat[1])
        rss[pid] = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        if b"--use-file-for-fake-audio-capture" in cmdline and b"chromium" in cmdline:
            ours.add(pid)
    family = set(ours)
    for pid in parents:
        hop, seen = pid, 0
        while hop in parents and hop not in family and seen < 50:
            hop, seen = parents[hop], seen + 1
        if hop in family:
            family.add(pid)
    return sum(rss.get(pid, 0) for pid in family) / 1024
