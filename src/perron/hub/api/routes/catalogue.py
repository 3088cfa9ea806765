"""``/api/catalogue``: dataset descriptions, their search and their HealthDCAT-AP export.

Stations publish (``PUT``) and withdraw (``DELETE``) the descriptions of their own
holder's datasets with their station token. Reading needs no login for the
descriptions their holders listed ``"public"`` (EHDS art. 77: a public dataset
catalogue; the public register is readable the same way); a valid bearer token, of a
user of any organisation or of a station, also shows those listed ``"hub"``. A token
that is sent but not valid is refused (401) rather than ignored, so a client with
an expired token learns it. See docs/catalogue.md.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, SkipValidation
from sqlalchemy.orm import Session

from perron.catalogue.dcat import FORMATS, CatalogueInfo, Format, Record, serialise, to_graph
from perron.catalogue.metadata import NAME_PATTERN, DatasetMetadata
from perron.catalogue.search import Query as SearchQuery
from perron.hub.api.deps import CurrentPrincipal, SessionDep
from perron.hub.api.errors import ERROR_RESPONSES
from perron.hub.services import catalogue
from perron.hub.services.auth import authenticate
from perron.hub.services.catalogue import Entry
from perron.protocol.errors import AuthenticationFailed, InputError

router = APIRouter(prefix="/api/catalogue", tags=["catalogue"], responses=ERROR_RESPONSES)

Holder = Annotated[
    str, Path(pattern=NAME_PATTERN, description="The holder: an organisation of the hub.")
]
DatasetName = Annotated[
    str, Path(pattern=NAME_PATTERN, description="The dataset's name, as data requests name it.")
]
_SEARCH = r"^[^\x00-\x1f\x7f]*$"
Text = Annotated[
    str, Query(max_length=200, pattern=_SEARCH, description="Words that must all appear.")
]
Theme = Annotated[
    str,
    Query(
        max_length=2000,
        pattern=_SEARCH,
        description="An EU data theme (HEAL, Health) or a health theme (IRI or its last part).",
    ),
]
Code = Annotated[
    str,
    Query(
        max_length=2000, pattern=_SEARCH, description="A coding system: ICD-10, ATC, ... or IRI."
    ),
]
HolderFilter = Annotated[
    str, Query(max_length=300, pattern=_SEARCH, description="The holder or its publisher name.")
]
#: The largest description the hub stores (characters of its JSON).
MAX_DESCRIPTION = 200_000

_RDF_CONTENT: dict[str, Any] = {
    "text/turtle": {"schema": {"type": "string"}},
    "application/ld+json": {"schema": {"type": "object"}},
}


class CatalogueEntryPublic(BaseModel):
    """A description and where it comes from (the station, when it was published)."""

    holder: str
    name: str
    station: str
    issued: str
    modified: str
    metadata: DatasetMetadata


def _public(entry: Entry) -> CatalogueEntryPublic:
    return CatalogueEntryPublic(
        holder=entry.holder,
        name=entry.name,
        station=entry.station,
        issued=entry.issued.isoformat(),
        modified=entry.modified.isoformat(),
        metadata=entry.metadata,
    )


def _signed_in(request: Request, session: Session) -> bool:
    """Whether the caller sent a valid token (``AuthenticationFailed`` for a bad one)."""
    header = request.headers.get("authorization")
    if header is None:
        return False
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "send the token as 'Authorization: Bearer <token>', or no Authorization header "
            "to read the public catalogue."
        )
    authenticate(session, token.strip())
    return True


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _record(request: Request, entry: Entry) -> Record:
    page = f"{_base_url(request)}/api/catalogue/datasets/{entry.holder}/{entry.name}"
    return Record(entry.metadata, issued=entry.issued, modified=entry.modified, page=page)


def _rdf(text: str, fmt: Format) -> Response:
    return Response(content=text, media_type=FORMATS[fmt])


@router.get("")
def search_catalogue(
    request: Request,
    session: SessionDep,
    text: Text = "",
    theme: Theme = "",
    code: Code = "",
    holder: HolderFilter = "",
) -> list[CatalogueEntryPublic]:
    """The descriptions that match every criterion given, by holder and name.

    No login needed for those listed publicly; a bearer token also shows those listed
    on the hub only.
    """
    query = SearchQuery(text=text, theme=theme, code=code, holder=holder)
    found = catalogue.find(session, query, signed_in=_signed_in(request, session))
    return [_public(entry) for entry in found]


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"description": "The catalogue as HealthDCAT-AP.", "content": _RDF_CONTENT}},
)
def export_catalogue(request: Request, session: SessionDep, format: Format = "turtle") -> Response:
    """The whole catalogue (that the caller may see) as HealthDCAT-AP: a ``dcat:Catalog``."""
    visible = catalogue.entries(session, signed_in=_signed_in(request, session))
    graph = to_graph(
        [_record(request, entry) for entry in visible],
        service_url=_base_url(request),
        catalogue=CatalogueInfo(),
    )
    return _rdf(serialise(graph, format), format)


@router.get(
    "/datasets/{holder}/{name}",
    response_model=CatalogueEntryPublic,
    responses={200: {"description": "The description.", "content": _RDF_CONTENT}},
)
def read_dataset(
    holder: Holder,
    name: DatasetName,
    request: Request,
    session: SessionDep,
    format: Literal["json", "turtle", "jsonld"] = "json",
) -> CatalogueEntryPublic | Response:
    """One description: as JSON, or as HealthDCAT-AP (``format=turtle`` or ``jsonld``)."""
    entry = catalogue.get(session, holder, name, signed_in=_signed_in(request, session))
    if format == "json":
        return _public(entry)
    graph = to_graph([_record(request, entry)], service_url=_base_url(request))
    return _rdf(serialise(graph, format), format)


@router.put(
    "/datasets/{holder}/{name}",
    responses={
        201: {"model": CatalogueEntryPublic, "description": "Published for the first time."}
    },
)
def publish_dataset(
    holder: Holder,
    name: DatasetName,
    description: Annotated[SkipValidation[DatasetMetadata], Body()],
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> CatalogueEntryPublic:
    """Publish or replace a description of the station's own holder (a station token).

    Counts must already have passed the holder's disclosure rules (``perron station
    datasets publish`` does that); one that contradicts the rule it names is refused.
    The description is validated after the caller is checked.
    """
    station = principal.require_station()
    if len(json.dumps(description)) > MAX_DESCRIPTION:
        raise InputError(
            f"a description is limited to {MAX_DESCRIPTION} characters of JSON; shorten it."
        )
    entry, created = catalogue.publish(session, station, holder, name, description)
    if created:
        response.status_code = 201
    return _public(entry)


@router.delete("/datasets/{holder}/{name}", status_code=204)
def withdraw_dataset(
    holder: Holder, name: DatasetName, principal: CurrentPrincipal, session: SessionDep
) -> None:
    """Withdraw a description (the station that published it)."""
    catalogue.withdraw(session, principal.require_station(), holder, name)
