"""What the service refuses, as values each edge words for its own audience.

The HTTP edges map these to a status and a SCIM error (``api.errors``), the portal
to an error page (``admin.errors``), the CLI to a one-line message
(``cli.common``). ``str()`` of each is a sentence an operator can read as it is.
The SCIM use cases raise SCIM exceptions instead: their refusals are the protocol's.
"""


class ServiceError(Exception):
    """The base of the service's refusals."""


class NotFound(ServiceError):
    """Something the request names by id does not exist."""


class UnknownOrganization(NotFound):
    def __init__(self, organization_id: str) -> None:
        super().__init__(f"no organization {organization_id}")
        self.organization_id = organization_id


class UnknownDirectory(NotFound):
    """No such directory, or (``organization_id`` given) none in that organization."""

    def __init__(self, directory_id: str, organization_id: str | None = None) -> None:
        within = f" in organization {organization_id}" if organization_id else ""
        super().__init__(f"no directory {directory_id}{within}")
        self.directory_id = directory_id
        self.organization_id = organization_id


class UnknownSetupLinkId(NotFound):
    """No setup link has this id (unlike ``setup_links.UnknownSetupLink``: none has this secret)."""

    def __init__(self, link_id: str) -> None:
        super().__init__(f"no setup link {link_id}")
        self.link_id = link_id


class UnknownUser(NotFound):
    """No user, living or deleted (a tombstone), of that id in the directory."""

    def __init__(self, directory_id: str, user_id: str) -> None:
        super().__init__(f"no user {user_id} in directory {directory_id}, nor a tombstone")
        self.directory_id = directory_id
        self.user_id = user_id


class Invalid(ServiceError):
    """A value of the request the service cannot take; ``detail`` says which and why.

    ``subject`` names what was being made (``"Role rule"``) for an edge that words the
    refusal apart from the form that held the value.
    """

    def __init__(self, detail: str, subject: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.subject = subject


class UnknownAssignmentGroup(Invalid):
    """The group named to give users access is not one of the directory's."""

    def __init__(self, directory_id: str, group_name: str) -> None:
        super().__init__(f"no group named {group_name!r} in directory {directory_id}")
        self.directory_id = directory_id
        self.group_name = group_name


class InvalidPath(Invalid):
    """A value that should name an attribute (``name.givenName``) names none."""


class Conflict(ServiceError):
    """The request cannot be done in the state things are in now."""


class NotUnique(Conflict):
    """A value that must be unique is not: it is taken, or it matches several things."""
