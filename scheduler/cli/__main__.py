"""``python -m suanwang.scheduler.cli``: the ``suanwang`` command."""

from suanwang.scheduler.cli import main

main()
