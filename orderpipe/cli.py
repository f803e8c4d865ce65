"""The `orderpipe` command: global options, one error edge, command groups registered lazily."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from orderpipe import __version__, console
from orderpipe.errors import OrderpipeError
from orderpipe.settings import (
    Settings,
    TargetName,
    config_file_error,
    load_settings,
    setting_source,
)


class OrderpipeGroup(TyperGroup):
    """Turns our errors into one sentence on stderr and an exit code (1, or 2 for usage)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            console.error("interrupted.")
            raise typer.Exit(130) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("click", "typer")):
                raise  # usage errors, --help, Exit: the CLI framework's own flow
            ours = _as_our_error(exc, ctx)
            if ours is None:  # a bug of ours: still one sentence, traceback with --debug
                message = f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)"
                _report(ctx, exc, message)
                raise typer.Exit(1) from None
            _report(ctx, exc, str(ours))
            raise typer.Exit(ours.exit_code) from None


def _as_our_error(exc: Exception, ctx: typer.Context) -> OrderpipeError | None:
    """Our sentence for `exc`: our own errors as they are; a full disk, a file-system failure or
    an AWS client error (e.g. an unreachable endpoint) each turned into one."""
    from orderpipe import errors

    settings = ctx.obj if isinstance(ctx.obj, Settings) else None
    where = settings.home if settings is not None else Path.cwd()
    if isinstance(exc, errors.DiskFull):
        return exc
    if errors.disk_full(exc):  # also when an engine only passed it on as text
        filename = exc.filename if isinstance(exc, OSError) else None
        return errors.disk_full_error(filename or where)
    if isinstance(exc, OrderpipeError):
        return exc
    if isinstance(exc, OSError):
        return errors.os_error(exc, where)
    if type(exc).__module__.startswith("botocore"):
        from orderpipe.targets.aws.errors import translate

        return translate(exc)
    return None


def _report(ctx: typer.Context, exc: BaseException, message: str) -> None:
    settings = ctx.obj if isinstance(ctx.obj, Settings) else None
    if settings is not None and settings.debug:
        console.err.print_exception(show_locals=False)
    console.error(message)


app = typer.Typer(
    cls=OrderpipeGroup,
    name="orderpipe",
    help="Build and run a real-time e-commerce order-history pipeline — on AWS or on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        console.out.print(f"orderpipe {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    target: Annotated[
        TargetName | None,
        typer.Option(
            help="Where the pipeline runs: local (default) or aws. [env: ORDERPIPE_TARGET]"
        ),
    ] = None,
    stack: Annotated[
        str | None, typer.Option(help="Prefix of every resource name (default orderpipe).")
    ] = None,
    home: Annotated[  # a str, so that an empty value reaches the settings' check
        str | None,
        typer.Option(help="Local target's state and data (default ./.orderpipe).", metavar="DIR"),
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (aws target).")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile (aws target).")] = None,
    debug: Annotated[
        bool | None, typer.Option("--debug", help="Show tracebacks and debug logs.")
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Global options; each is also ORDERPIPE_<NAME> and a key in ./orderpipe.toml."""
    from pydantic import ValidationError

    flags = {"target": target, "stack": stack, "home": home, "region": region,
             "profile": profile, "debug": debug}  # fmt: skip
    try:
        ctx.obj = load_settings(**flags)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = setting_source(".".join(str(p) for p in first["loc"]), flags)
        message = first["msg"].removeprefix("Value error, ")
        raise typer.BadParameter(message, param_hint=where) from None
    except (ValueError, OSError) as exc:  # orderpipe.toml is broken, binary or unreadable
        raise config_file_error(exc) from None
    if ctx.obj.debug:
        import logging

        from orderpipe.redact import RedactingFilter

        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())  # botocore logs the session token at DEBUG
        logging.basicConfig(level=logging.DEBUG, handlers=[handler])


def _register() -> None:
    from orderpipe.commands import dashboard, demo, infra, ingest, pipeline, query, report, runloop

    for module in (infra, ingest, pipeline, runloop, query, report, dashboard, demo):
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
