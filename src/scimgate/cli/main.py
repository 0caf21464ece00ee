"""The ``scimgate`` command: the root app, assembling each command group and top-level command.

Each command and group lives in the module named after what it serves.
``scimgate --help`` lists the commands, then the groups, each in the order added here.
"""

import typer

from scimgate.cli.admin_keys import keys_app
from scimgate.cli.audit import audit_app
from scimgate.cli.common import report_service_errors
from scimgate.cli.directories import directories_app
from scimgate.cli.drift import drift
from scimgate.cli.encryption import encryption_app
from scimgate.cli.events import events_app, held_app, offboarding_app
from scimgate.cli.google import google_app
from scimgate.cli.groups import groups_app
from scimgate.cli.help_names import name_parameters
from scimgate.cli.logs import logs_app
from scimgate.cli.mappings import mappings_app
from scimgate.cli.oauth_clients import oauth_clients_app
from scimgate.cli.organizations import orgs_app
from scimgate.cli.roles import roles_app
from scimgate.cli.schemas import schemas_app
from scimgate.cli.server import migrate, serve
from scimgate.cli.setup_links import setup_links_app
from scimgate.cli.simulation import simulate
from scimgate.cli.tokens import tokens_app
from scimgate.cli.transfer import export_directory, import_directory
from scimgate.cli.users import users_app
from scimgate.cli.webhooks import webhooks_app, worker

app = typer.Typer(help="scimgate: a SCIM 2.0 provisioning service.", no_args_is_help=True)
app.command()(worker)
app.command()(serve)
app.command()(migrate)
app.command("export")(export_directory)
app.command("import")(import_directory)
app.command()(drift)
app.command()(simulate)
app.add_typer(directories_app, name="directories")
app.add_typer(tokens_app, name="tokens")
app.add_typer(oauth_clients_app, name="oauth-clients")
app.add_typer(google_app, name="google")
app.add_typer(users_app, name="users")
app.add_typer(groups_app, name="groups")
app.add_typer(mappings_app, name="mappings")
app.add_typer(roles_app, name="roles")
app.add_typer(schemas_app, name="schemas")
app.add_typer(events_app, name="events")
app.add_typer(held_app, name="held")
app.add_typer(offboarding_app, name="offboarding")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(logs_app, name="logs")
app.add_typer(orgs_app, name="orgs")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(setup_links_app, name="setup-links")
app.add_typer(encryption_app, name="encryption")
report_service_errors(app)
name_parameters(app)
