"""A directory's attribute mappings and role rules in the portal: edit them, preview first.

Each editor's "Preview" posts the same fields as "Save" and shows how the
change would move existing users' values; it saves nothing. Without htmx the
preview comes back as the whole page.
"""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from scimgate.admin.guard import admin_guard
from scimgate.admin.web import PortalError, render
from scimgate.api.engine import EngineDep
from scimgate.records import frozen
from scimgate.service.administration import attribute_mappings, roles
from scimgate.service.errors import Invalid
from scimgate.service.portal import mapping_preview
from scimgate.service.portal.mapping_preview import SCAN_CAP, MappingPreview, RolePreview

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin_guard, scope="function")]
)

Name = Annotated[str, Form(max_length=64)]
Path = Annotated[str, Form(max_length=512)]
Kind = Annotated[str, Form(max_length=32)]
Match = Annotated[str, Form(max_length=512)]
Role = Annotated[str, Form(max_length=64)]
Priority = Annotated[int, Form(ge=-1_000_000, le=1_000_000)]

Found = TypeVar("Found", MappingPreview, RolePreview)


@frozen
class MappingForm:
    name: str = ""
    path: str = ""


@frozen
class RuleForm:
    kind: str = "group_name"
    match: str = ""
    role: str = ""
    priority: int = 100


@frozen
class Editors:
    """What the page's two editors show: the values typed, an error, a preview."""

    mapping: MappingForm = MappingForm()
    rule: RuleForm = RuleForm()
    mapping_error: str | None = None
    rule_error: str | None = None
    mapping_preview: MappingPreview | None = None
    rule_preview: RolePreview | None = None


def _mapping_form(name: Name = "", path: Path = "") -> MappingForm:
    return MappingForm(name.strip(), path.strip())


def _rule_form(
    kind: Kind = "group_name", match: Match = "", role: Role = "", priority: Priority = 100
) -> RuleForm:
    return RuleForm(kind, match.strip(), role.strip(), priority)


MappingFields = Annotated[MappingForm, Depends(_mapping_form)]
"""A mapping editor's posted fields (by "Save" and "Preview" alike), trimmed."""

RuleFields = Annotated[RuleForm, Depends(_rule_form)]
"""A role rule editor's posted fields (by "Save" and "Preview" alike), trimmed."""


def _base(directory_id: str) -> str:
    return f"/admin/directories/{directory_id}/mappings"


def _page(
    request: Request, engine: Engine, directory_id: str, editors: Editors, status: int = 200
) -> HTMLResponse:
    found = mapping_preview.settings(engine, directory_id)
    return render(
        request,
        "directory/mappings.html",
        {
            "directory": found.directory,
            "tab": "mappings",
            "mappings": found.mappings,
            "rules": found.rules,
            "editors": editors,
            "scan_cap": SCAN_CAP,
            "base": _base(directory_id),
        },
        status=status,
    )


def _fragment(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    # htmx swaps only 2xx answers, so a refused preview is a 200 fragment showing the error.
    return render(request, template, {"scan_cap": SCAN_CAP, **context})


def _save(
    request: Request,
    engine: Engine,
    directory_id: str,
    save: Callable[[], object],
    refused: Callable[[str], Editors],
) -> Response:
    """Back to the page once saved; a refusal comes back as a 400 page with ``refused(error)``."""
    try:
        save()
    except Invalid as exc:
        return _page(request, engine, directory_id, refused(str(exc)), status=400)
    return RedirectResponse(_base(directory_id), status_code=303)


def _preview(
    request: Request,
    engine: Engine,
    directory_id: str,
    fragment: str,
    preview: Callable[[], Found],
    editors: Callable[[Found | None, str | None], Editors],
) -> HTMLResponse:
    """A preview's answer: to htmx, the ``fragment`` template alone, showing the effect or the
    refusal; else the whole page with ``editors(found, error)``, a refusal as a 400."""
    htmx = bool(request.headers.get("HX-Request"))
    try:
        found = preview()
    except Invalid as exc:
        if htmx:
            return _fragment(request, fragment, {"error": str(exc)})
        return _page(request, engine, directory_id, editors(None, str(exc)), status=400)
    if htmx:
        return _fragment(request, fragment, {"found": found})
    return _page(request, engine, directory_id, editors(found, None))


@router.get("/directories/{directory_id}/mappings")
def mappings_page(request: Request, engine: EngineDep, directory_id: str) -> HTMLResponse:
    return _page(request, engine, directory_id, Editors())


@router.post("/directories/{directory_id}/mappings")
def set_mapping(
    request: Request, engine: EngineDep, directory_id: str, form: MappingFields
) -> Response:
    """Map a custom attribute; a refused one comes back with its error, nothing saved."""
    return _save(
        request,
        engine,
        directory_id,
        lambda: attribute_mappings.set_mapping(engine, directory_id, form.name, form.path),
        lambda error: Editors(mapping=form, mapping_error=error),
    )


@router.post("/directories/{directory_id}/mappings/preview")
def preview_mapping(
    request: Request, engine: EngineDep, directory_id: str, form: MappingFields
) -> HTMLResponse:
    """What mapping the attribute would change for existing users, without saving it."""
    return _preview(
        request,
        engine,
        directory_id,
        "directory/mappings_preview.html",
        lambda: mapping_preview.preview_mapping(engine, directory_id, form.name, form.path),
        lambda found, error: Editors(mapping=form, mapping_preview=found, mapping_error=error),
    )


@router.post("/directories/{directory_id}/mappings/{name}/remove")
def remove_mapping(engine: EngineDep, directory_id: str, name: str) -> Response:
    """Remove the directory's own mapping: the IdP profile's default, if any, applies again."""
    removed = attribute_mappings.remove_mapping(engine, directory_id, name)
    if not removed:
        raise PortalError(404, f"The directory has no mapping of its own named {name!r}.")
    return RedirectResponse(_base(directory_id), status_code=303)


@router.post("/directories/{directory_id}/roles")
def add_rule(request: Request, engine: EngineDep, directory_id: str, form: RuleFields) -> Response:
    """Add a role rule (applied to every user at once); a refused one comes back with its error."""
    return _save(
        request,
        engine,
        directory_id,
        lambda: roles.add_rule(
            engine, directory_id, form.kind, form.match, form.role, form.priority
        ),
        lambda error: Editors(rule=form, rule_error=error),
    )


@router.post("/directories/{directory_id}/roles/preview")
def preview_rule(
    request: Request, engine: EngineDep, directory_id: str, form: RuleFields
) -> HTMLResponse:
    """Which users a role rule would give (or take) roles, without saving it."""
    return _preview(
        request,
        engine,
        directory_id,
        "directory/mappings_role_preview.html",
        lambda: mapping_preview.preview_rule(
            engine, directory_id, form.kind, form.match, form.role, form.priority
        ),
        lambda found, error: Editors(rule=form, rule_preview=found, rule_error=error),
    )


@router.post("/directories/{directory_id}/roles/{rule_id}/remove")
def remove_rule(engine: EngineDep, directory_id: str, rule_id: str) -> Response:
    removed = roles.remove_rule(engine, directory_id, rule_id)
    if not removed:
        raise PortalError(404, "This role rule does not exist any more.")
    return RedirectResponse(_base(directory_id), status_code=303)
