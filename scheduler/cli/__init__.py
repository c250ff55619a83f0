"""The ``suanwang`` command line, split by command group."""

from __future__ import annotations

import typer

from suanwang import __version__
from suanwang.scheduler.cli.capacity_cmd import capacity_app
from suanwang.scheduler.cli.collect_cmd import collect, state_app
from suanwang.scheduler.cli.energy_cmd import accounts, grid_app
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.plan_cmd import demo, plan
from suanwang.scheduler.cli.serve_cmd import db_app, serve, token_app
from suanwang.scheduler.cli.server_cmd import sites_app, status
from suanwang.scheduler.cli.simulate_cmd import simulate
from suanwang.scheduler.cli.submit_cmd import jobs_app, submit
from suanwang.scheduler.cli.tenant_cmd import tenant_app
from suanwang.scheduler.cli.topology_cmd import app as topology_app

app = typer.Typer(
    cls=SuanwangGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    help="suanwang (算网): schedule and plan AI compute across a province's network of compute centres.",
)
app.add_typer(topology_app, name="topology")
app.command()(plan)
app.command()(demo)
app.command()(collect)
app.command()(submit)
app.add_typer(jobs_app, name="jobs")
app.command()(serve)
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
app.add_typer(sites_app, name="sites")
app.command()(status)
app.command()(simulate)
app.add_typer(state_app, name="state")
app.add_typer(grid_app, name="grid-event")
app.command()(accounts)
app.add_typer(capacity_app, name="capacity")
app.add_typer(tenant_app, name="tenant")


def _version(value: bool) -> None:
    if value:
        print(f"suanwang {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """suanwang (算网): schedule and plan AI compute across a province's network of compute centres."""


def main() -> None:
    app()
