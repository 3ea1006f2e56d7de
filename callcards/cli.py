"""The `callcards` command: FastAGI server, site, migrations, demo data, Asterisk sandbox."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from callcards.config import DEVELOPMENT_SECRET_KEY, Settings, load_settings, split_host_port

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def _cmd_agi(args: argparse.Namespace, settings: Settings) -> int:
    from fastagi.app import serve

    asyncio.run(serve(settings, args.listen, grace=args.grace))
    return 0


def _cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    from webadmin import create_app

    if args.production and settings.secret_key == DEVELOPMENT_SECRET_KEY:
        print("refusing to start: set SECRET_KEY for production", file=sys.stderr)
        return 2
    host, port = split_host_port(args.listen, 5000)
    app = create_app(settings=settings)
    app.run(host=host, port=port, debug=False, threaded=True)
    return 0


def _cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from models import migrate

    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    if settings.is_sqlite:
        # The embedded database lives in a file whose folder must exist.
        from pathlib import Path

        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    if args.action == "upgrade":
        migrate.upgrade(settings.database_url, args.revision or "head")
    elif args.action == "downgrade":
        migrate.downgrade(settings.database_url, args.revision or "-1")
    else:
        migrate.current(settings.database_url)
    return 0


def _sessions(settings: Settings) -> sessionmaker[Session]:
    from models.session import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.database_url))


def _cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from callcards.demo import seed_demo
    from models.session import transaction

    with transaction(_sessions(settings)) as session:
        seed_demo(session)
    print("demo data loaded: logins admin, supervisor, operator1, operator2 (password = login)")
    if args.week:
        from callcards.demo_week import seed_demo_week

        try:
            made = seed_demo_week(settings)
        except ModuleNotFoundError as error:  # bench/ (its AGI peer) is not in an install
            print(f"the demo week runs from a checkout: {error}", file=sys.stderr)
            return 2
        print(
            f"demo week: {made} calls made through the FastAGI routes"
            if made
            else "demo week: already there"
        )
    return 0


def _cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from models import Role, User
    from models.session import transaction

    password = args.password or getpass.getpass(f"password for {args.login}: ")
    if len(password) < 8:
        print("a password needs at least 8 characters", file=sys.stderr)
        return 2
    with transaction(_sessions(settings)) as session:
        user = User(
            login=args.login,
            name=args.name or args.login,
            role=Role(args.role).value,
            extension=args.extension,
        )
        user.set_password(password)
        session.add(user)
    print(f"user {args.login} ({args.role}) created")
    return 0


def _cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from callcards import sandbox

    if args.action == "up":
        info = sandbox.up(
            agi_address=args.agi or settings.agi_listen,
            ami_port=args.ami_port,
            # Asterisk records straight into the folder the site plays from.
            recordings_dir=settings.recordings_dir,
            # CDR/CEL go to PostgreSQL; the embedded SQLite demo keeps none.
            database_url=None if settings.is_sqlite else settings.database_url,
            # Browser phones: ws://127.0.0.1:<port>/ws (plain WS, loopback only).
            ws_port=args.ws_port,
        )
        print(json.dumps(_jsonable(info), indent=2, ensure_ascii=False))
    elif args.action == "down":
        sandbox.down()
        print("sandbox stopped")
    else:
        print(json.dumps(_jsonable(sandbox.status()), indent=2, ensure_ascii=False))
    return 0


def _cmd_phone_cert(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from pbx.phone_cert import install_own, write_self_signed

    keys = Path(args.keys_dir)
    try:
        if args.cert or args.key:
            if not (args.cert and args.key):
                print("give both --cert and --key (your own pair), or neither", file=sys.stderr)
                return 2
            written = install_own(keys, Path(args.cert), Path(args.key))
        else:
            written = write_self_signed(keys, args.host)
    except (OSError, ValueError) as error:
        print(f"no certificate written: {error}", file=sys.stderr)
        return 1
    print(
        f"wrote {written.cert} and {written.key}; reload Asterisk (module reload http, "
        "res_pjsip) to use them"
    )
    return 0


def _cmd_route(args: argparse.Namespace, settings: Settings) -> int:
    from callcards.simulator import run_simulation

    with _sessions(settings)() as session:
        try:
            print(
                run_simulation(
                    session,
                    did=args.did,
                    caller=args.caller,
                    when=args.at,
                    keys=args.keys,
                    queues=args.queues,
                    draft=args.draft,
                    as_json=args.json,
                    zone=args.tz,
                )
            )
        except (LookupError, ValueError) as error:
            print(f"callcards route: {error}", file=sys.stderr)
            return 2
    return 0


def _cmd_recordings(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime, timedelta

    from callcards.maintenance import apply_retention, recheck_recordings
    from models.session import transaction
    from recordings import RecordingStore

    store = RecordingStore(settings.recordings_dir)
    now = datetime.now(UTC)
    with transaction(_sessions(settings)) as session:
        if args.action == "clean":
            report = apply_retention(session, store, now, dry_run=args.dry_run)
            suffix = " (dry run: nothing removed)" if args.dry_run else ""
            print("\n".join(report.lines()) + suffix)
        else:
            counts = recheck_recordings(session, store, now - timedelta(days=args.days))
            print(
                ", ".join(f"{state}: {count}" for state, count in sorted(counts.items()))
                or "no recordings in that period"
            )
    return 0


def _cmd_asterisk(args: argparse.Namespace, settings: Settings) -> int:
    from pbx.apply import apply_queues, pending_diff
    from pbx.endpoints import apply_endpoints

    with _sessions(settings)() as session:
        if args.action == "apply":
            failed = False
            for apply in (apply_queues, apply_endpoints):
                result = apply(session, settings)
                print("\n".join(result.lines()), file=sys.stdout if result.ok else sys.stderr)
                failed = failed or not result.ok
            return 1 if failed else 0
        try:
            diff = pending_diff(session, settings)
        except ValueError as error:
            print(f"callcards asterisk: {error}", file=sys.stderr)
            return 2
    print(diff or "the live file already says what the database says", end="" if diff else "\n")
    return 0


def _cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from callcards.reconcile import run_locked
    from fastagi.cards import CardStore
    from recordings import RecordingStore

    sessions = _sessions(settings)
    store = CardStore(sessions, RecordingStore(settings.recordings_dir), settings.public_url)
    done = run_locked(
        sessions,
        store,
        lookback=timedelta(hours=args.hours),
        open_limit=timedelta(seconds=settings.reconcile_open_limit),
    )
    if done is None:
        print(
            "callcards reconcile: another instance is reconciling now; try again later",
            file=sys.stderr,
        )
        return 1
    print("\n".join(done.lines()))
    return 0


def _cmd_callbacks(args: argparse.Namespace, settings: Settings) -> int:
    from callbacks.sweep import sweep_locked

    done = sweep_locked(_sessions(settings))
    if done is None:
        print(
            "callcards callbacks: another instance is sweeping now; try again later",
            file=sys.stderr,
        )
        return 1
    print(done.line())
    return 0


def _cmd_reports(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime

    from reports.rollup import roll_up

    # The zone the site reads dates in too (webadmin's BABEL_DEFAULT_TIMEZONE).
    zone = settings.zone
    done = roll_up(
        _sessions(settings), zone, datetime.now(zone).date(), repeat_days=settings.fcr_repeat_days
    )
    print(f"{done} day(s) rolled up")
    return 0


def _cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace
    from pathlib import Path

    from callcards.config import REPO_ROOT

    # bench/ is not in the wheel: like the sandbox, it runs from a checkout.
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from bench.run import QUICK, Sizes, command_line, run_benchmarks

    output = Path(args.output) if args.output else REPO_ROOT / "docs" / "benchmarks.md"
    if args.which == "callbacks":
        from bench.callbacks import run_callbacks_bench

        return run_callbacks_bench(args.calls or (5 if args.quick else 20), output, command_line())
    if args.which == "softphone":
        from bench.softphone import run_softphone_bench

        return run_softphone_bench(args.calls or (5 if args.quick else 20), output, command_line())
    if args.which == "screenpop":
        from bench.screenpop import run_screenpop_bench

        return run_screenpop_bench(args.calls or (3 if args.quick else 20), output, command_line())
    if args.which == "tracker":
        from bench.tracker import run_tracker_bench

        calls = args.calls or (100 if args.quick else 1000)
        return run_tracker_bench(calls, output, command_line())
    if args.which == "sessions":
        from bench.sessions import run_sessions_bench

        return run_sessions_bench(
            args.operators or (5 if args.quick else 50),
            args.days or (14 if args.quick else 365),
            2 if args.quick else 5,
            output,
            command_line(),
        )
    if args.which == "live":
        from bench.live_bench import run_live_bench

        quick = args.quick
        return run_live_bench(20 if quick else 200, 40 if quick else 300, output, command_line())
    sizes = QUICK if args.quick else Sizes()
    changes = {
        "levels": tuple(args.levels) if args.levels else None,
        "duration": args.duration,
        "calls": args.calls,
        "cards": args.cards,
        "floor": tuple(args.floor) if args.floor else None,
        "floor_sec": args.floor_sec,
    }
    sizes = replace(sizes, **{key: value for key, value in changes.items() if value is not None})
    return run_benchmarks(
        args.which,
        sizes=sizes,
        output=output,
        command=command_line(),
        keep_history=args.keep_history,
        reuse_history=args.reuse_history,
        history_database=args.history_db,
    )


def _jsonable(value: object) -> object:
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return {key: str(item) for key, item in asdict(value).items()}  # type: ignore[call-overload]
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line: `callcards <command> ...`."""
    parser = argparse.ArgumentParser(prog="callcards", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug lines")
    commands = parser.add_subparsers(dest="command", required=True)

    agi = commands.add_parser("agi", help="serve FastAGI for Asterisk's dialplan")
    agi.add_argument("--listen", help="HOST:PORT (default CALLCARDS_AGI_LISTEN or 127.0.0.1:4573)")
    agi.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="seconds calls in progress get to finish on SIGTERM",
    )
    agi.set_defaults(run=_cmd_agi)

    web = commands.add_parser("web", help="serve the staff site (development server)")
    web.add_argument("--listen", default="127.0.0.1:5000", help="HOST:PORT")
    web.add_argument("--production", action="store_true", help="refuse a default SECRET_KEY")
    web.set_defaults(run=_cmd_web)

    db = commands.add_parser("db", help="database schema migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?", help="target revision (default head / one step)")
    db.set_defaults(run=_cmd_db)

    seed = commands.add_parser("seed-demo", help="load demo dictionaries, staff and call flow")
    seed.add_argument(
        "--week",
        action="store_true",
        help="also a week of calls through the FastAGI routes, cards completed",
    )
    seed.set_defaults(run=_cmd_seed_demo)

    user = commands.add_parser("user-add", help="create a member of staff")
    user.add_argument("login")
    user.add_argument(
        "--role", choices=[role.value for role in __import__("models").Role], default="operator"
    )
    user.add_argument("--name")
    user.add_argument("--extension")
    user.add_argument("--password", help="(default: asked for)")
    user.set_defaults(run=_cmd_user_add)

    route = commands.add_parser("route", help="simulate a call through the call flow")
    route.add_argument("--did", required=True, help="the dialled number")
    route.add_argument("--caller", default="+79160000000", help="the caller's number")
    route.add_argument("--at", help="date and time, ISO (default now), e.g. 2026-11-24T12:00")
    route.add_argument("--tz", default="Europe/Moscow", help="zone for --at without an offset")
    route.add_argument("--keys", default="", help="answers to prompts: '9,,1' (empty = silence)")
    route.add_argument(
        "--queues",
        default="",
        help="what each queue reached does: "
        "'empty,timeout' (answered, empty or timeout; then it answers)",
    )
    route.add_argument("--draft", action="store_true", help="the unpublished draft, not live")
    route.add_argument("--json", action="store_true", help="machine-readable output")
    route.set_defaults(run=_cmd_route)

    recordings = commands.add_parser("recordings", help="retention clean-up and file checks")
    recordings.add_argument(
        "action",
        choices=["clean", "check"],
        help="clean: apply each queue's retention_days; check: re-check files",
    )
    recordings.add_argument("--dry-run", action="store_true", help="clean: only report")
    recordings.add_argument("--days", type=int, default=1, help="check: cards ended in N days")
    recordings.set_defaults(run=_cmd_recordings)

    callbacks = commands.add_parser(
        "callbacks", help="gather lost cards into callback tasks (what `callcards agi` does)"
    )
    callbacks.set_defaults(run=_cmd_callbacks)
    reconcile = commands.add_parser(
        "reconcile", help="build or close the cards of calls the FastAGI server missed, from CEL"
    )
    reconcile.add_argument("--hours", type=float, default=24, help="look back this many hours")
    reconcile.set_defaults(run=_cmd_reconcile)

    sandbox = commands.add_parser("sandbox", help="the real Asterisk 22 sandbox for trying calls")
    sandbox.add_argument("action", choices=["up", "down", "status"])
    sandbox.add_argument("--agi", help="FastAGI address the sandbox calls (default: agi listen)")
    sandbox.add_argument("--ami-port", type=int, default=5038)
    sandbox.add_argument(
        "--ws-port",
        type=int,
        default=8088,
        help="browser phones: SIP over ws://127.0.0.1:<port>/ws",
    )
    sandbox.set_defaults(run=_cmd_sandbox)

    cert = commands.add_parser(
        "phone-cert", help="the browser phones' certificate (WSS and DTLS-SRTP) for Asterisk"
    )
    cert.add_argument(
        "--host",
        default="localhost",
        help="self-signed: the name or address browsers use for Asterisk",
    )
    cert.add_argument("--cert", help="your own certificate (PEM) instead of a self-signed one")
    cert.add_argument("--key", help="its unencrypted private key (PEM)")
    cert.add_argument(
        "--keys-dir",
        default="/etc/asterisk/keys",
        help="where http.conf and pjsip.conf read asterisk.crt/asterisk.key",
    )
    cert.set_defaults(run=_cmd_phone_cert)

    asterisk = commands.add_parser(
        "asterisk", help="queues and operators' phones, applied to Asterisk"
    )
    asterisk.add_argument(
        "action",
        choices=["apply", "show"],
        help="apply: write, reload through AMI, check (queues, then phones); "
        "show: the queues' diff with the live file",
    )
    asterisk.set_defaults(run=_cmd_asterisk)

    reports = commands.add_parser(
        "reports", help="roll up past days for the reports (nightly; days edited since too)"
    )
    reports.add_argument("action", choices=["rollup"])
    reports.set_defaults(run=_cmd_reports)

    bench = commands.add_parser("bench", help="benchmarks of issue 5, into docs/benchmarks.md")
    bench.add_argument(
        "which",
        choices=[
            "agi",
            "asterisk",
            "site",
            "softphone",
            "screenpop",
            "tracker",
            "sessions",
            "live",
            "callbacks",
            "all",
        ],
        help="softphone: the browser phone in Chromium; screenpop: AgentCalled to the card "
        "shown in the workspace, on real calls; tracker: the live floor's AMI events "
        "per second; sessions: the operator sessions report on a year of intervals; live: 200 "
        "open live streams; callbacks: click to ring and what the sweep costs calls (none of "
        "them part of all)",
    )
    bench.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    bench.add_argument("--output", help="the Markdown file to update (default docs/benchmarks.md)")
    bench.add_argument("--levels", type=int, nargs="+", help="agi: calls in flight per run")
    bench.add_argument("--duration", type=float, help="agi: seconds measured per level")
    bench.add_argument(
        "--calls",
        type=int,
        help="asterisk: calls through each route; softphone: calls answered; screenpop: calls "
        "popped; tracker: calls",
    )
    bench.add_argument("--cards", type=int, help="site: cards of history to generate")
    bench.add_argument("--keep-history", action="store_true", help="site: keep the database")
    bench.add_argument(
        "--reuse-history",
        action="store_true",
        help="site: time the database a --keep-history run left",
    )
    bench.add_argument(
        "--history-db", help="site: the history's database name (default callcards_bench_site)"
    )
    bench.add_argument(
        "--floor",
        type=int,
        nargs="+",
        help="site: operators polling the screen-pop at once, per run (1 50 100)",
    )
    bench.add_argument("--floor-sec", type=float, help="site: seconds measured per floor run")
    bench.add_argument("--operators", type=int, help="sessions: operators (50)")
    bench.add_argument("--days", type=int, help="sessions: days of intervals (365)")
    bench.set_defaults(run=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `callcards` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
    except ValueError as error:  # a setting that cannot be read: say which, not a traceback
        print(f"callcards: {error}", file=sys.stderr)
        return 2
    return int(args.run(args, settings))


if __name__ == "__main__":
    sys.exit(main())
