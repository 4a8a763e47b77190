"""``python -m brainsync``: the command line."""

from brainsync.interfaces.entry import main

main()
