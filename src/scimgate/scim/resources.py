"""The resource types scimgate serves and how it describes itself (RFC 7643 §5-7)."""

from typing import Any

import email_validator
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    BulkOperation,
    BulkResponse,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Pagination,
    Patch,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
)

from scimgate.scim.email_address import User as User
from scimgate.scim.limits import Limits

# E-mail addresses are the directory's, not ours to judge: Active Directory
# tenants sync addresses in special-use domains such as "corp.local", which the
# validator behind scim2-models' EmailStr refuses by default. The validator
# documents this list as the place to change that.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()

UserResource: Any = User[EnterpriseUser]
"""A user: the core User schema with the enterprise extension (RFC 7643 §4.1, §4.3)."""

GroupResource = Group

BulkResult = BulkOperation[UserResource]
"""One entry of a Bulk response. Results carry no resource body, so the type
parameter only satisfies the model: a group operation's result is the same."""

BulkResults = BulkResponse[UserResource]
"""A Bulk response made of :data:`BulkResult` entries."""

USER_SCHEMA = str(User.__schema__)
GROUP_SCHEMA = str(Group.__schema__)
ENTERPRISE_SCHEMA = str(EnterpriseUser.__schema__)


DESCRIPTIONS = {
    USER_SCHEMA: "User Account",
    GROUP_SCHEMA: "Group of users and groups",
    ENTERPRISE_SCHEMA: "Enterprise User",
}
"""What each built-in schema (and the resource type of a core one) describes.

The models describe a schema by its name alone ("User"); RFC 7643 §8.7.1 says
what the resource is.
"""


def service_provider(limits: Limits) -> ScimProvider:
    """The description of the service, with the limits it really enforces.

    Resource types are described per directory, with its own extensions
    (``service.provisioning.discovery``).
    """
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(
            supported=True,
            max_operations=limits.max_bulk_operations,
            max_payload_size=limits.max_payload_bytes,
        ),
        filter=Filter(supported=True, max_results=limits.max_results),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        pagination=Pagination(
            cursor=True,
            index=True,
            default_pagination_method=Pagination.DefaultPaginationMethod.index,
            default_page_size=limits.default_count,
            max_page_size=limits.max_results,
        ),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="A directory token sent as 'Authorization: Bearer <token>'.",
                primary=True,
            ),
            AuthenticationScheme(
                type="oauth2",
                name="OAuth 2.0 client credentials",
                description=(
                    "An access token obtained at /oauth/token with a directory's OAuth client "
                    "(grant_type=client_credentials), sent as 'Authorization: Bearer <token>'."
                ),
                spec_uri="https://www.rfc-editor.org/rfc/rfc6749#section-4.4",
            ),
        ],
    )
    return ScimProvider(
        models=[User, EnterpriseUser, Group],
        config=config,
    )
