"""``python -m brainsync``: the command line."""

from brainsync.interfaces.cli import main

main()
