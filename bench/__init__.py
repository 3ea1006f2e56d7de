"""Benchmarks of issue 5: FastAGI under load, setup time on Asterisk, the site on a big history.

Run from a checkout with `callcards bench agi|asterisk|site|all [--quick]`; the figures go
to docs/benchmarks.md. Nothing here is imported by the application.
"""
