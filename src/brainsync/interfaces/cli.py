"""The ``brainsync`` command line: a thin Typer layer over :class:`brainsync.app.Brain`.

Each command reads its arguments, calls one facade method and formats the result. Library
errors become exit codes mechanically (see ``brainsync.errors``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from brainsync.app import Brain
from brainsync.errors import BrainsyncError, InvalidInputError
from brainsync.interfaces import cli_folders, cli_hosts, cli_jobs, cli_watch, mcp
from brainsync.interfaces.completion import complete_policies, complete_types
from brainsync.interfaces.console import (
    Invocation,
    SettingsSource,
    finish_job,
    finish_report,
    following,
    open_brain,
    out,
    print_enqueued,
    start_invocation,
)
from brainsync.interfaces.render import entity_dict, print_history, print_json, print_status

__all__ = ["app", "main"]

app = typer.Typer(
    help="Keep a database of markdown entities in two-way sync with a folder of files.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
entity_app = typer.Typer(help="Read and change single entities.", no_args_is_help=True)
app.add_typer(entity_app, name="entity")
cli_jobs.register(app)
cli_folders.register(app)
cli_hosts.register(app)
cli_watch.register(app)
mcp.register(app)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")
]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Print the job id and return at once.")]
IfVersionOpt = Annotated[
    int | None,
    typer.Option(
        "--if-version",
        help="Only if the entity is at this version (0: it must not exist); else exit 4.",
    ),
]
TypesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--type",
        "-t",
        help="Only this entity type (repeatable).",
        autocompletion=complete_types,
    ),
]


def _version(value: bool) -> None:
    if value:
        from brainsync import __version__

        out.print(f"brainsync {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            "-d",
            help="Sync directory [BRAINSYNC_DIR; default ./brain-data].",
            # the library refuses an unreadable folder itself (exit 5, JSON with --json)
            readable=False,
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL: sqlite:///... or postgresql://... [BRAINSYNC_DB]."),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="State folder for database, jobs and locks [BRAINSYNC_HOME].",
            readable=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Config file [BRAINSYNC_CONFIG; default ./brainsync.toml].",
            readable=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Tracebacks and the job engine's log on stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """Global options; each also comes from a BRAINSYNC_* variable or the config file."""
    start_invocation(ctx, verbose=verbose)
    arguments = {"directory": directory, "db": db, "home": home}
    ctx.obj = SettingsSource(arguments, config)


def _run(
    ctx: typer.Context, kind: str, params: dict[str, Any], as_json: bool, no_wait: bool
) -> None:
    """Enqueue the operation as a durable job and follow it (dry runs run inline)."""
    if params.get("dry_run") or no_wait:
        with open_brain(ctx, read_only=bool(params.get("dry_run"))) as brain:
            if params.get("dry_run"):
                finish_report(brain.run(kind, params), kind, as_json)
            else:
                print_enqueued(brain.start(kind, params, worker=False), as_json)
        return
    with following(ctx, quiet=as_json) as follower:
        job = follower.run(kind, params)
    finish_job(job, as_json)


ForceDeletesOpt = Annotated[
    bool,
    typer.Option("--force-deletes", help="Allow more deletions than the configured share."),
]
RestoreOpt = Annotated[
    bool,
    typer.Option(
        "--restore",
        help="Write back what was deleted on the other side since the last sync instead of "
        "leaving it alone (export: deleted files; import: deleted entities).",
    ),
]


def _one_way(kind: str, summary: str) -> None:
    """Register ``export`` or ``import``: the same options, one direction each."""

    def command(
        ctx: typer.Context,
        types: TypesOpt = None,
        dry_run: DryRunOpt = False,
        restore: RestoreOpt = False,
        force_deletes: ForceDeletesOpt = False,
        as_json: JsonOpt = False,
        no_wait: NoWaitOpt = False,
    ) -> None:
        params = {
            "types": types,
            "dry_run": dry_run,
            "restore": restore,
            "force_deletes": force_deletes,
        }
        _run(ctx, kind, params, as_json, no_wait)

    command.__doc__ = summary
    app.command(kind)(command)


_one_way("export", "Write entities from the database to markdown files (a durable job).")
_one_way("import", "Read markdown files into the database (a durable job).")


@app.command("sync")
def sync_cmd(
    ctx: typer.Context,
    dry_run: DryRunOpt = False,
    force_deletes: ForceDeletesOpt = False,
    conflict: Annotated[
        str | None,
        typer.Option(
            "--conflict",
            help="merge | keep-both | file-wins | db-wins | fail.",
            autocompletion=complete_policies,
        ),
    ] = None,
    as_json: JsonOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Both directions in one run; conflicts resolved by policy, nothing lost (a durable job)."""
    params = {"dry_run": dry_run, "force_deletes": force_deletes, "conflict": conflict}
    _run(ctx, "sync", params, as_json, no_wait)


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    ignored: Annotated[
        bool,
        typer.Option("--ignored", help="List every ignored path with its rule (scans now)."),
    ] = False,
    pending: Annotated[
        bool,
        typer.Option(
            "--pending", help="Scan now: what the next sync would do (a dry run; kept for later)."
        ),
    ] = False,
) -> None:
    """Counts, last runs, jobs, watch state and the last scan; --pending scans now."""
    with open_brain(ctx, read_only=True) as brain:
        # listing ignored paths walks the folder anyway: count them by the same scan
        status = brain.status(pending=pending or ignored)
        paths = brain.ignored() if ignored else None
    if as_json:
        data = status.to_dict()
        if paths is not None:
            data["ignored_paths"] = [path.to_dict() for path in paths]
        print_json(out, data)
    else:
        print_status(out, status, paths)


@entity_app.command("put")
def entity_put(
    ctx: typer.Context,
    type: str,
    id: str,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Markdown file (default: stdin).")
    ] = None,
    if_version: IfVersionOpt = None,
) -> None:
    """Create or update an entity from a markdown document."""
    text = _read_document(file)
    with open_brain(ctx) as brain:
        entity = brain.put_entity(type, id, text=text, if_version=if_version)
    out.print(f"{entity.type}:{entity.id} version {entity.version}")


def _read_document(file: Path | None) -> str:
    """The UTF-8 text of ``file`` (stdin when None); unreadable input is an input error."""
    name = str(file) if file else "stdin"
    try:
        data = file.read_bytes() if file else sys.stdin.buffer.read()
    except FileNotFoundError:
        raise InvalidInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{name}: is a directory, not a markdown file") from None
    except OSError as exc:
        raise InvalidInputError(f"{name}: cannot read it: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{name}: not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
        ) from None


VersionOpt = Annotated[
    int | None, typer.Option("--version", help="A kept version (see `entity history`).")
]


@entity_app.command("get")
def entity_get(
    ctx: typer.Context, type: str, id: str, version: VersionOpt = None, as_json: JsonOpt = False
) -> None:
    """Print an entity's markdown document (or its JSON view), or an earlier version."""
    with open_brain(ctx, read_only=True) as brain:
        entity = brain.get_entity(type, id, version=version)
    if as_json:
        print_json(out, entity_dict(entity))
    else:
        out.file.write(entity.document)


entity_app.command("show", help="The same as `entity get`.")(entity_get)


@entity_app.command("history")
def entity_history(ctx: typer.Context, type: str, id: str, as_json: JsonOpt = False) -> None:
    """List the kept versions of an entity, oldest first, with what wrote each."""
    with open_brain(ctx, read_only=True) as brain:
        history = brain.entity_history(type, id)
    if as_json:
        print_json(out, [version.to_dict() for version in history])
    else:
        print_history(out, history)


@entity_app.command("revert")
def entity_revert(
    ctx: typer.Context,
    type: str,
    id: str,
    to: Annotated[int, typer.Option("--to", help="The version to make current again.")],
) -> None:
    """Make an earlier version current again, as a new version (history is kept)."""
    with open_brain(ctx) as brain:
        entity = brain.revert_entity(type, id, to=to)
    out.print(f"{entity.type}:{entity.id} version {entity.version}")


@entity_app.command("list")
def entity_list(
    ctx: typer.Context,
    type: Annotated[str | None, typer.Option("--type", "-t", autocompletion=complete_types)] = None,
    as_json: JsonOpt = False,
) -> None:
    """List entities (every page, ordered by type and id)."""
    with open_brain(ctx, read_only=True) as brain:
        rows = [entity_dict(e, with_document=False) for e in _all_entities(brain, type)]
    if as_json:
        print_json(out, rows)
        return
    for row in rows:
        out.print(f"{row['type']}:{row['id']}\tv{row['version']}\t{row['updated']}")


def _all_entities(brain: Brain, type: str | None) -> Iterator[Any]:
    page = brain.list_entities(type)
    while page:
        yield from page
        page = brain.list_entities(type, after=page[-1].key)


@entity_app.command("delete")
def entity_delete(ctx: typer.Context, type: str, id: str, if_version: IfVersionOpt = None) -> None:
    """Delete an entity (its file goes at the next export or sync)."""
    with open_brain(ctx) as brain:
        brain.delete_entity(type, id, if_version=if_version)
    out.print(f"deleted {type}:{id}")


def main() -> None:
    """Entry point: run the app; a failure prints a line or two and exits with its code.

    Standalone mode, so that click itself prints usage errors (exit 2) and turns Exit and
    Ctrl-C into exit codes: Typer vendors its own click, whose exceptions the ``click``
    package's classes do not catch. ``brainsync mcp`` is served before any of that, so that
    its ``initialize`` is answered quickly (:mod:`brainsync.interfaces.entry`).
    """
    invocation = Invocation()
    try:
        app(obj=invocation)
    except BrainsyncError as exc:
        invocation.refuse(exc)
    except Exception as exc:
        invocation.crash(exc)
