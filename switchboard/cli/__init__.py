"""The `switchboard` command line: read options, call one library function, print.

Every command maps switchboard's errors to one ``Error: …`` line on stderr and
exit status 1. ``--json`` prints only JSON on stdout. Natural language,
FastAPI and PyGithub are imported only by the commands that need them, so
``switchboard tick`` starts fast.

- ``root.py`` — the typer app, its global options, ``Error:`` lines, settings, ``main``;
- ``render.py`` — JSON, tables, times for people, schedules and results;
- ``schedules.py`` — ``send``, ``onetime …``, ``recurring …``;
- ``edit.py`` — ``onetime update`` and ``recurring update``;
- ``results.py`` — ``results …``;
- ``keys.py`` and ``config.py`` — ``keys …`` and ``config …``;
- ``tick.py`` — ``tick``, ``watch`` and ``dispatch``;
- ``agent_tools.py`` — ``agent-tools attach|detach|show``;
- ``setup.py`` — ``explain``, ``import``, ``init``, ``serve``, ``demo``, ``doctor``.

This file puts the command tree together, in the order ``switchboard --help`` lists it.
"""

from switchboard.cli import edit, setup, tick
from switchboard.cli.agent_tools import agent_tools_app
from switchboard.cli.config import config_app
from switchboard.cli.keys import keys_app
from switchboard.cli.render import Column, render_table
from switchboard.cli.results import results_app
from switchboard.cli.root import app, main, parse_now, run
from switchboard.cli.schedules import onetime_app, recurring_app, send

app.command("send")(send)
app.command("explain")(setup.explain)
app.command("tick")(tick.tick)
app.command("watch")(tick.watch)
app.command("import")(setup.import_cmd)
app.command("init")(setup.init)
app.command("serve")(setup.serve)
app.command("demo")(setup.demo)
app.command("dispatch")(tick.dispatch)
app.command("doctor")(setup.doctor)
onetime_app.command("update")(edit.onetime_update)
recurring_app.command("update")(edit.recurring_update)
app.add_typer(keys_app, name="keys")
app.add_typer(onetime_app, name="onetime")
app.add_typer(recurring_app, name="recurring")
app.add_typer(results_app, name="results")
app.add_typer(config_app, name="config")
app.add_typer(agent_tools_app, name="agent-tools")

__all__ = ["Column", "app", "main", "parse_now", "render_table", "run"]
