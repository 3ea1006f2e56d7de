"""A year of call-centre history, generated inside PostgreSQL (INSERT ... SELECT).

Forty operators in six queues; calls spread over the weeks of the last year by weekday and
hour as a clinic's phone line sees them (busy weekday mornings, quiet weekends and nights);
85 % inbound; answered, missed, abandoned, busy and failed in usual proportions; cards
completed with a purpose and a category, a few left incomplete, some tagged; and the
timeline events the reports read (call_started, route, operator_rang, answered, hangup).
Rows are written in time order, each call's events together, as live tables grow. The
random stream is seeded, so two runs of one size make the same history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from models import Queue, QueueMember, Role, User, queue_supervisors

#: name, title, share of inbound calls (the demo's two queues first).
QUEUES = (
    ("appointments", "Запись на приём", 0.35),
    ("reception", "Регистратура", 0.28),
    ("lab", "Лаборатория", 0.14),
    ("billing", "Оплата и ДМС", 0.10),
    ("complaints", "Жалобы", 0.05),
    ("tech", "Личный кабинет", 0.08),
)
OPERATORS = 40
#: Relative call volume by ISO weekday (Mon..Sun) and by hour of the day (0..23).
WEEKDAY_WEIGHTS = (1.15, 1.05, 1.0, 1.0, 0.95, 0.35, 0.15)
HOUR_WEIGHTS = (
    0.02,
    0.01,
    0.01,
    0.01,
    0.01,
    0.02,
    0.05,
    0.2,
    0.8,
    1.0,
    1.0,
    0.95,
    0.85,
    0.8,
    0.9,
    0.9,
    0.85,
    0.75,
    0.55,
    0.35,
    0.2,
    0.1,
    0.05,
    0.03,
)
#: A call outside the clinic's hours (08-20 Moscow time on weekdays) meets the closed message;
#: slot hours are Moscow's (UTC+3).
CLOSED = "(s.direction = 'inbound' AND (s.hour < 8 OR s.hour >= 20 OR s.dow >= 5))"
DIDS = ("74951234567", "74951234568", "74952223344", "78005553535", "74957778899")


def add_staff(session: Session, password_hash: str) -> None:
    """Queues, operators (extensions 101..140) in two queues each, a supervisor of two queues."""
    queues = {queue.name: queue for queue in session.scalars(select(Queue))}
    for name, title, _share in QUEUES:
        if name not in queues:
            queues[name] = Queue(name=name, title=title)
            session.add(queues[name])
    session.flush()
    ordered = [queues[name] for name, _title, _share in QUEUES]
    existing = {user.extension: user for user in session.scalars(select(User))}
    for number in range(OPERATORS):
        extension = str(101 + number)
        user = existing.get(extension)
        if user is None:
            user = User(
                login=f"op{extension}",
                name=f"Оператор {extension}",
                role=Role.OPERATOR.value,
                extension=extension,
                password_hash=password_hash,
            )
            session.add(user)
            session.flush()
        served = {ordered[number % len(ordered)], ordered[(number + 1) % len(ordered)]}
        have = {member.queue_id for member in user.memberships}
        user.memberships.extend(
            QueueMember(queue=queue, penalty=0) for queue in served if queue.id not in have
        )
    supervisor = User(
        login="supervisor2",
        name="Супервайзер двух очередей",
        role=Role.SUPERVISOR.value,
        password_hash=password_hash,
    )
    session.add(supervisor)
    session.flush()
    session.execute(
        queue_supervisors.insert(),
        [{"user_id": supervisor.id, "queue_id": queues[name].id} for name in ("lab", "billing")],
    )


def _slots_sql() -> str:
    """VALUES of (weekday 0..6, hour, cumulative low, cumulative high) for picking a slot."""
    weights = [
        (day, hour, WEEKDAY_WEIGHTS[day] * HOUR_WEIGHTS[hour])
        for day in range(7)
        for hour in range(24)
    ]
    total = sum(weight for _, _, weight in weights)
    rows, low = [], 0.0
    for day, hour, weight in weights:
        high = low + weight / total
        rows.append(f"({day}, {hour}, {low:.9f}, {high if (day, hour) != (6, 23) else 1.0:.9f})")
        low = high
    return ", ".join(rows)


def _queue_case(column: str) -> str:
    """CASE over a random number picking a queue by its share of inbound calls."""
    parts, low = [], 0.0
    total = sum(share for _, _, share in QUEUES)
    for name, _title, share in QUEUES[:-1]:
        low += share / total
        parts.append(f"WHEN {column} < {low:.6f} THEN '{name}'")
    return f"CASE {' '.join(parts)} ELSE '{QUEUES[-1][0]}' END"


CALLS_SQL = """
CREATE TEMP TABLE slots (dow int, hour int, lo float8, hi float8);
INSERT INTO slots VALUES {slots};
CREATE TEMP TABLE drawn AS
SELECT g, random() AS r_week, random() AS r_slot, random() AS r_sec, random() AS r_dir,
       random() AS r_queue, random() AS r_status, random() AS r_wait, random() AS r_talk,
       random() AS r_op, random() AS r_caller, random() AS r_purpose, random() AS r_sub,
       random() AS r_done, random() AS r_flag, random() AS r_hold, random() AS r_did
FROM generate_series(1, :n) AS g;
CREATE TEMP TABLE timed AS
SELECT d.*, s.dow, s.hour,
       :monday + (floor(d.r_week * 53)::int * 7 + s.dow) * interval '1 day'
               + (s.hour - 3) * interval '1 hour' + d.r_sec * interval '1 hour' AS started_at
FROM drawn d JOIN LATERAL (
  SELECT dow, hour FROM slots WHERE d.r_slot < slots.hi ORDER BY slots.hi LIMIT 1) s ON true;
CREATE TEMP TABLE shaped AS
SELECT t.*,
  CASE WHEN r_dir < 0.85 THEN 'inbound' ELSE 'outbound' END AS direction,
  CASE WHEN r_dir < 0.85 THEN
    CASE WHEN r_status < 0.80 THEN 'answered' WHEN r_status < 0.89 THEN 'abandoned'
         ELSE 'missed' END
  ELSE CASE WHEN r_status < 0.70 THEN 'answered' WHEN r_status < 0.80 THEN 'busy'
            WHEN r_status < 0.85 THEN 'failed' ELSE 'missed' END
  END AS status
FROM timed t WHERE started_at < :now;
DELETE FROM shaped WHERE g IN (
  SELECT g FROM shaped ORDER BY random()
  LIMIT greatest(0, (SELECT count(*) FROM shaped) - :count));
CREATE TEMP TABLE staff AS
SELECT array_agg(id ORDER BY id) AS ops, array_agg(extension ORDER BY id) AS exts,
       array_agg(name ORDER BY id) AS names, count(*) AS n
FROM users WHERE role = 'operator';
CREATE TEMP TABLE dictionary AS
SELECT (SELECT array_agg(id ORDER BY id) FROM call_purpose) AS purposes,
       (SELECT array_agg(id ORDER BY id) FROM call_sub_category) AS subs,
       (SELECT array_agg(category_id ORDER BY id) FROM call_sub_category) AS sub_cats;
INSERT INTO calls (
  id, uniqueid, linkedid, queue, direction, status, started_at, answered_at, ended_at,
  duration_sec, talk_sec, hold_sec, src_number, dst_number, did, operator_id, purpose_id,
  category_id, sub_category_id, recording_path, recording_url, resolved_first_call,
  needs_callback, notes, caller_name, did_source, did_city, end_reason, ivr_path,
  queue_entered_at, wait_sec, recording_state, completed_at, completed_by_id, updated_at)
SELECT
  id, uid, uid,
  CASE WHEN in_queue THEN queue END,
  direction, CASE WHEN closed THEN 'missed' ELSE status END, started_at,
  CASE WHEN answered THEN started_at + (ivr + wait) * interval '1 second' END,
  started_at + (ivr + wait + talk) * interval '1 second',
  ivr + wait + talk,
  talk, CASE WHEN answered AND r_hold < 0.1 THEN floor(r_hold * 600)::int ELSE 0 END,
  CASE WHEN direction = 'inbound' THEN caller ELSE ext_number END,
  CASE WHEN direction = 'inbound' THEN did ELSE caller END,
  CASE WHEN direction = 'inbound' THEN did END,
  CASE WHEN answered OR direction = 'outbound' THEN op END,
  CASE WHEN done THEN purpose END, CASE WHEN done THEN category END,
  CASE WHEN done THEN sub END,
  CASE WHEN NOT closed THEN to_char(started_at, 'YYYY/MM/DD/') || uid || '.wav' END,
  CASE WHEN NOT closed THEN '/api/calls/' || id || '/recording' END,
  done AND r_flag < 0.6, done AND r_flag > 0.92,
  CASE WHEN done AND r_flag BETWEEN 0.3 AND 0.5 THEN 'Перезвонить после обеда, уточнить полис' END,
  CASE WHEN r_caller < 0.4 THEN 'Пациент ' || floor(r_caller * 100000)::int END,
  CASE WHEN direction = 'inbound' THEN 'Яндекс.Директ' END,
  CASE WHEN direction = 'inbound' THEN 'Москва' END,
  CASE WHEN closed THEN 'closed_hours'
       WHEN direction = 'outbound' THEN
         CASE status WHEN 'busy' THEN 'busy' WHEN 'failed' THEN 'congestion'
                     WHEN 'missed' THEN 'no_answer' ELSE 'caller_hangup' END
       WHEN status = 'answered' THEN CASE WHEN r_flag < 0.5 THEN 'caller_hangup'
                                          ELSE 'operator_hangup' END
       WHEN status = 'abandoned' THEN CASE WHEN r_wait < 0.15 THEN 'caller_hangup_ivr'
                                           ELSE 'caller_hangup_queue' END
       ELSE CASE WHEN r_wait < 0.7 THEN 'queue_timeout' ELSE 'no_operator' END
  END,
  CASE WHEN direction = 'inbound' AND NOT closed THEN 'main > ' || (1 + floor(r_queue * 3)::int)
  END,
  CASE WHEN in_queue THEN started_at + ivr * interval '1 second' END,
  CASE WHEN in_queue THEN wait END,
  CASE WHEN closed THEN 'none' WHEN started_at < :now - interval '180 days' THEN 'expired'
       ELSE 'ok' END,
  CASE WHEN done AND NOT incomplete
       THEN started_at + (ivr + wait + talk + 20 + floor(r_done * 1000)::int % 160)
            * interval '1 second' END,
  CASE WHEN done AND NOT incomplete THEN op END,
  started_at + (ivr + wait + talk) * interval '1 second'
FROM (
  SELECT s.*, row_number() OVER (ORDER BY started_at) AS id,
    floor(extract(epoch FROM started_at))::bigint || '.' || g AS uid,
    st.ops[1 + floor(r_op * st.n)::int] AS op,
    '+7916' || lpad((floor(r_caller * 200000)::int)::text, 7, '0') AS caller,
    '+7495' || lpad((floor(r_sec * 9000000)::int)::text, 7, '0') AS ext_number,
    (ARRAY{dids})[1 + floor(r_did * {did_count})::int] AS did,
    {queue_case} AS queue,
    {closed} AS closed,
    s.status = 'answered' AND NOT {closed} AS answered,
    s.direction = 'inbound' AND NOT {closed}
      AND NOT (s.status = 'abandoned' AND r_wait < 0.15) AS in_queue,
    CASE WHEN s.direction = 'inbound' THEN 8 + floor(r_sec * 10)::int ELSE 0 END AS ivr,
    floor(r_wait * r_wait * 150)::int AS wait,
    CASE WHEN s.status = 'answered' AND NOT {closed}
         THEN 30 + floor(r_talk * r_talk * 900)::int ELSE 0 END AS talk,
    s.status = 'answered' AND NOT {closed} AND r_done < 0.97 AS done,
    started_at > :now - interval '2 days' AND r_done < 0.5
      OR r_done > 0.985 AS incomplete,
    d.purposes[1 + floor(r_purpose * array_length(d.purposes, 1))::int] AS purpose,
    d.subs[1 + floor(r_sub * array_length(d.subs, 1))::int] AS sub,
    d.sub_cats[1 + floor(r_sub * array_length(d.subs, 1))::int] AS category
  FROM shaped s CROSS JOIN staff st CROSS JOIN dictionary d
) AS rows
ORDER BY id;
SELECT setval('calls_id_seq', (SELECT max(id) FROM calls));
"""

EVENTS_SQL = """
INSERT INTO call_events (call_id, at, kind, channel_uniqueid, data)
SELECT c.id, e.at, e.kind, e.channel_uniqueid, e.data
FROM calls c
LEFT JOIN users u ON u.id = c.operator_id
CROSS JOIN staff st
CROSS JOIN LATERAL (VALUES
  (1, true, c.started_at, 'call_started', c.uniqueid,
   jsonb_build_object('did', coalesce(c.did, ''))),
  (2, c.queue_entered_at IS NOT NULL, c.queue_entered_at, 'route', NULL,
   jsonb_build_object('action', 'queue', 'queue', c.queue, 'reason', 'menu')),
  (3, c.queue_entered_at IS NOT NULL AND (c.status <> 'abandoned' OR c.wait_sec > 2),
   c.queue_entered_at + interval '2 seconds', 'operator_rang', NULL,
   jsonb_build_object('extension', coalesce(u.extension,
                                            st.exts[1 + (c.id::bigint * 7919) % st.n]))),
  (4, c.answered_at IS NOT NULL AND c.direction = 'inbound', c.answered_at, 'answered', NULL,
   jsonb_build_object('interface', 'PJSIP/' || u.extension, 'extension', u.extension,
                      'operator', u.name)),
  (5, true, c.ended_at, 'hangup', NULL,
   jsonb_build_object('status', c.status, 'reason', coalesce(c.end_reason, ''), 'cause', '16'))
) AS e(step, wanted, at, kind, channel_uniqueid, data)
WHERE e.wanted
ORDER BY c.id, e.step;
INSERT INTO call_tags (call_id, tag_id)
SELECT c.id, t.ids[1 + (c.id * 31) % array_length(t.ids, 1)]
FROM calls c CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM call_tag) t
WHERE c.completed_at IS NOT NULL AND (c.id * 2654435761) % 100 < 5;
"""


def generate_calls(connection: Connection, count: int, now: datetime | None = None) -> int:
    """Insert about `count` cards over the year before `now` (with events and tags); how many."""
    now = now or datetime.now(UTC)
    # 53 weeks up to this one; calls drawn after `now` are dropped.
    this_monday = now.date() - timedelta(days=now.weekday())
    monday = datetime.combine(this_monday - timedelta(weeks=52), datetime.min.time(), tzinfo=UTC)
    connection.execute(text("SELECT setseed(0.42)"))
    script = CALLS_SQL.format(
        slots=_slots_sql(),
        queue_case=_queue_case("r_queue"),
        closed=CLOSED,
        dids="[" + ", ".join(f"'{did}'" for did in DIDS) + "]",
        did_count=len(DIDS),
    )
    # Draws past `now` are dropped, then the surplus at random: ask for a little more.
    draw = int(count * 1.05) + 10
    for statement in _statements(script):
        connection.execute(
            text(statement), {"n": draw, "monday": monday, "now": now, "count": count}
        )
    for statement in _statements(EVENTS_SQL):
        connection.execute(text(statement))
    return int(connection.scalar(text("SELECT count(*) FROM calls")) or 0)


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";\n") if part.strip()]
