"""``python -m scheduler.cli``: the ``suanwang`` command."""

from scheduler.cli import main

main()
