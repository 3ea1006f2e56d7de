"""The live floor: Asterisk's queue and member events turned into a picture pushed to browsers.

floor.py  the typed picture (queues, callers waiting, operators' states) and its JSON
bus.py    the ordered event log in the database, with PostgreSQL NOTIFY to wake readers
tracker.py  AMI queue and member events in, typed changes out (pure: no database, no network)
store.py    the changes written: intervals, live events, wrap-ups, the picture, per batch
wrapup.py   which wrap-ups end now (card complete, time up)
listener.py the one writer (in `callcards agi`): AMI session, resync, batches, the lock
actions.py  a supervisor pauses, unpauses or logs out an operator (audited; the site calls it)
ami.py      panoramisk's Manager for one session (the caller reconnects)
"""
