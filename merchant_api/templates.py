"""`/templates`: what personalizable products ask the customer.

Shared templates (the YAML's, or written with an operator key) serve every
store; any key reads them, only an operator key changes them. A store's key
may create templates of its own: only that store sees, uses, changes and
deletes them (an operator key may too). See `core/directory.py`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from core.directory import TemplateForbidden, TemplateInUse, UnknownTemplate
from merchant_api.deps import Api, ApiDep, CallerDep
from merchant_api.keys import Caller
from merchant_api.views import UNKNOWN_QUERY, Problem, Responses, TemplateView
from plumbing.config import TemplateConfig
from plumbing.limits import TEMPLATE_ID_PATTERN
from schemas import Template

router = APIRouter(prefix="/templates", tags=["templates"])

TemplateId = Annotated[str, Path(pattern=TEMPLATE_ID_PATTERN, examples=["name-mug"])]
_NOT_FOUND: Responses = {404: {"model": Problem, "description": "No such template for this key."}}
_FORBIDDEN: Responses = {
    403: {"model": Problem, "description": "Shared or another store's: this key may not change it."}
}


@router.get("", responses=UNKNOWN_QUERY)
async def list_templates(api: ApiDep, caller: CallerDep) -> list[TemplateView]:
    """Every template this key may use: the shared ones and its store's own."""
    return await _visible(api, caller)


@router.get("/{template_id}", responses=_NOT_FOUND)
async def get_template(template_id: TemplateId, api: ApiDep, caller: CallerDep) -> TemplateView:
    return _one(await _visible(api, caller), template_id)


@router.put("/{template_id}", responses={201: {"model": TemplateView, "description": "Created."}, **_FORBIDDEN})
async def put_template(
    template_id: TemplateId, template: TemplateConfig, api: ApiDep, caller: CallerDep, response: Response
) -> TemplateView:
    """Create a template (a store key's becomes its store's own) or replace one this key may change."""
    try:
        Template(id=template_id, title=template.title, fields=template.event_fields())  # names unique, as core needs
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False, include_context=False)]
        ) from None
    try:
        created = await api.directory.put_template(template_id, template, by=caller.store)
    except TemplateForbidden as error:
        raise HTTPException(403, str(error)) from None
    response.status_code = 201 if created else 200
    return _one(await _visible(api, caller), template_id)


@router.delete(
    "/{template_id}",
    status_code=204,
    responses={**_NOT_FOUND, **_FORBIDDEN, 409: {"model": Problem, "description": "Still in use."}},
)
async def delete_template(template_id: TemplateId, api: ApiDep, caller: CallerDep) -> None:
    """Delete a template no catalog uses (the YAML's stay: remove them there)."""
    _one(await _visible(api, caller), template_id)
    try:
        await api.directory.delete_template(template_id, by=caller.store)
    except TemplateForbidden as error:
        raise HTTPException(403, str(error)) from None
    except TemplateInUse as error:
        raise HTTPException(409, str(error)) from None
    except UnknownTemplate as error:
        raise HTTPException(404, str(error)) from None


async def _visible(api: Api, caller: Caller) -> list[TemplateView]:
    """A store's key: the shared templates and its own, its own in place of a shared one of the same id.

    An operator key: every template; an id that is both the YAML's and a store's appears twice, by owner.
    """
    config = await api.directory.config()
    owned = {store: own for store, own in config.store_templates.items() if caller.may_act_for(store)}
    hidden = set(owned.get(caller.store, {})) if caller.store else set()
    views = [
        TemplateView(id=tid, title=t.title, fields=t.fields, owner=None)
        for tid, t in config.templates.items()
        if tid not in hidden
    ]
    views += [
        TemplateView(id=tid, title=t.title, fields=t.fields, owner=store)
        for store, own in owned.items()
        for tid, t in own.items()
    ]
    return sorted(views, key=lambda view: (view.id, view.owner or ""))


def _one(templates: list[TemplateView], template_id: str) -> TemplateView:
    """A store's own before a shared one of the same id: the one a write with this key changes."""
    found = sorted((t for t in templates if t.id == template_id), key=lambda view: view.owner is None)
    if not found:
        raise HTTPException(404, f"no template {template_id!r} for this key")
    return found[0]
