"""Report figures, outcomes and daily roll-ups, usable by the site and the CLI without Flask."""
