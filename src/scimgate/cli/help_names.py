"""How ``--help`` names what a command takes: as the README's usage lines do.

Typer writes a required argument as ``{name}`` in the usage line and puts a type
beside each parameter (``<str>``, ``<int>``, and ``<bool>`` beside a flag). Here an
argument is its name in upper case (``DIRECTORY_ID``; ``[NAME]`` when optional), an
option's value is named after what it holds (``--org ORG``, ``--users N``, ``--since
TIME``, ``--output FILE``; a choice lists its values, ``entra|okta|…``), and a flag
shows no value. :func:`name_parameters` applies it to every command once.
"""

import typer
from typer._click.core import Context, Parameter
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


class _Argument(TyperArgument):
    """An argument named in upper case, without a type beside it."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def display_type_rich(self, ctx: Context) -> str | None:
        return _choices(self, ctx)

    def get_usage_pieces(self, ctx: Context) -> list[str]:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return [name if self.nargs == 1 else f"{name}..."]


class _Option(TyperOption):
    """An option whose value is named after what it holds; a flag shows none."""

    def display_type_rich(self, ctx: Context) -> str | None:
        if self.metavar is not None:
            return self.metavar
        if self.is_flag:
            return None
        described = self.type_descriptor
        if described.is_choice:
            return _choices(self, ctx)
        if described.is_datetime:
            return "TIME"
        if described.is_path:
            return "FILE"
        if described.annotation in (int, float):
            return "N"
        # The last word of the option's name: --org ORG, --database-url URL, --group-id ID.
        longest = max(self.opts, key=len)
        return longest.lstrip("-").rsplit("-", 1)[-1].upper()


def _choices(param: TyperArgument | TyperOption, ctx: Context) -> str | None:
    """A choice's values as Typer lists them, ``a|b|c``; None for a parameter without choices."""
    if not param.type_descriptor.is_choice:
        return None
    return param.display_type(ctx).strip("<>")


def _named(params: list[Parameter]) -> list[Parameter]:
    """``params``, each made one of the classes above (they add behaviour, no state)."""
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption:
            param.__class__ = _Option
    return params


class NamedCommand(TyperCommand):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return _named(super().get_params(ctx))


class NamedGroup(TyperGroup):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return _named(super().get_params(ctx))


def name_parameters(app: typer.Typer) -> None:
    """Make the help of ``app``, its commands and its groups' name parameters as above.

    Call it once every command is registered.
    """
    app.info.cls = NamedGroup
    for command in app.registered_commands:
        command.cls = NamedCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            name_parameters(group.typer_instance)
