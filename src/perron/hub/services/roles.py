"""The roles a person holds in their organisation (:class:`perron.governance.roles.Role`).

A user holds the roles granted to them (``user_roles``) and, if their hub role is
``researcher``, :attr:`Role.RESEARCHER` as well: the hub role keeps its meaning (only
hub researchers send tasks) and a hub researcher needs no grant to apply for data.
Roles are granted by a hub admin, or by an ``org_admin`` of the person's own
organisation; a grant replaces the person's set of granted roles.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from perron.governance.roles import Role
from perron.hub.db.models import Organisation, User, UserRole
from perron.hub.errors import NotFound
from perron.protocol.errors import NotAuthorized


def roles_of(session: Session, user: User) -> frozenset[Role]:
    """The roles ``user`` holds now (granted ones, plus researcher for hub researchers)."""
    granted = session.scalars(select(UserRole.role).where(UserRole.user_id == user.id))
    roles = {Role(name) for name in granted}
    if user.role == "researcher":
        roles.add(Role.RESEARCHER)
    return frozenset(roles)


def sorted_values(roles: Collection[Role]) -> list[str]:
    """Role values, sorted (as the API shows them).

    Examples
    --------
    >>> sorted_values({Role.RESEARCHER, Role.DATA_MANAGER})
    ['data_manager', 'researcher']
    """
    return sorted(role.value for role in roles)


def set_roles(session: Session, user: User, roles: Collection[Role]) -> frozenset[Role]:
    """Replace the roles granted to ``user`` with ``roles``; commit; the roles held now."""
    session.execute(delete(UserRole).where(UserRole.user_id == user.id))
    session.add_all(UserRole(user_id=user.id, role=role.value) for role in set(roles))
    session.commit()
    return roles_of(session, user)


def member(session: Session, organisation: str, username: str) -> User:
    """User ``username`` of ``organisation``.

    Raises
    ------
    NotFound
        No such organisation, or no such user in it.
    """
    org = session.scalar(select(Organisation).where(Organisation.name == organisation))
    if org is None:
        raise NotFound(f"no organisation {organisation!r} on this hub.")
    user = session.scalar(
        select(User).where(User.username == username, User.organisation_id == org.id)
    )
    if user is None:
        raise NotFound(f"organisation {organisation!r} has no member {username!r}.")
    return user


def grant(
    session: Session, granter: User, organisation: str, username: str, roles: Collection[Role]
) -> tuple[User, frozenset[Role]]:
    """Replace the roles of ``username`` of ``organisation``, as ``granter`` asks.

    Raises
    ------
    NotAuthorized
        ``granter`` is neither a hub admin nor an ``org_admin`` of ``organisation``.
    NotFound
        No such organisation or member.
    """
    allowed = granter.role == "admin" or (
        granter.organisation.name == organisation and Role.ORG_ADMIN in roles_of(session, granter)
    )
    if not allowed:
        raise NotAuthorized(
            f"roles in {organisation!r} are granted by a hub admin or an organisation admin "
            f"of {organisation!r}; {granter.username!r} is neither."
        )
    user = member(session, organisation, username)
    return user, set_roles(session, user, roles)
