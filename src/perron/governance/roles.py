"""Roles a person holds in an organisation (a person may hold several)."""

from __future__ import annotations

from enum import StrEnum

from perron.protocol.errors import InputError


class Role(StrEnum):
    """A role in an organisation, as the Secur-e-Health route names them."""

    RESEARCHER = "researcher"
    DATA_MANAGER = "data_manager"
    PRIVACY_OFFICER = "privacy_officer"
    LEGAL_COUNSEL = "legal_counsel"
    IT_ADMIN = "it_admin"
    SECURITY_OFFICER = "security_officer"
    ORG_ADMIN = "org_admin"

    @property
    def label(self) -> str:
        """The role as people write it.

        Examples
        --------
        >>> Role.PRIVACY_OFFICER.label
        'privacy officer'
        """
        return _LABELS[self]


_LABELS = {
    Role.RESEARCHER: "researcher",
    Role.DATA_MANAGER: "data manager",
    Role.PRIVACY_OFFICER: "privacy officer",
    Role.LEGAL_COUNSEL: "legal counsel",
    Role.IT_ADMIN: "IT/system administrator",
    Role.SECURITY_OFFICER: "security officer",
    Role.ORG_ADMIN: "organisation admin",
}


def parse_roles(names: object) -> frozenset[Role]:
    """Roles from their names; a clear error for an unknown one.

    Examples
    --------
    >>> sorted(parse_roles(["researcher", "data_manager"]))
    [<Role.DATA_MANAGER: 'data_manager'>, <Role.RESEARCHER: 'researcher'>]
    """
    if isinstance(names, str) or not isinstance(names, list | tuple | set | frozenset):
        raise InputError("roles must be a list of role names.")
    roles = set()
    for name in names:
        try:
            roles.add(Role(str(name)))
        except ValueError:
            known = ", ".join(role.value for role in Role)
            raise InputError(f"unknown role {name!r}; the roles are {known}.") from None
    return frozenset(roles)
