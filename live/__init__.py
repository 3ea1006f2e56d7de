"""The live floor: Asterisk's queue and member events turned into a picture pushed to browsers.

floor.py  the typed picture (queues, callers waiting, operators' states) and its JSON
bus.py    the ordered event log in the database, with PostgreSQL NOTIFY to wake readers
"""
