"""Callback tasks: lost callers gathered by number and queue, called back, measured."""
