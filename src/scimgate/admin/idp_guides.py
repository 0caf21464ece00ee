"""What the customer's IT admin does in their identity provider, step by step, per IdP.

The steps follow the vendors' documentation where there is some (Microsoft
Entra ID, Okta, Ping Identity) and third-party descriptions otherwise; those
guides say so, since consoles are renamed more often than protocols change.
Steps name the SCIM base URL and the token shown next to them on the page.
"""

from scimgate.records import frozen
from scimgate.scim.idp import IdpProfile


@frozen
class Step:
    """One thing to do, with the details that make it unambiguous."""

    title: str
    details: tuple[str, ...] = ()


@frozen
class IdpGuide:
    idp: IdpProfile
    name: str
    """The IdP as its admins call it."""

    url_field: str
    """What the IdP calls the field that takes the SCIM base URL."""

    token_field: str
    """What the IdP calls the field that takes the token."""

    steps: tuple[Step, ...]
    expect: tuple[str, ...]
    """What the IdP is known to do once connected, so nothing surprises."""

    caution: str | None = None
    """Said when the steps come from third parties rather than the vendor."""

    called: str | None = None
    """How a sentence names the IdP, when not by ``name``."""

    oauth: str | None = None
    """Where the IdP takes OAuth 2.0 client credentials instead of a token, when it can."""

    @property
    def spoken(self) -> str:
        return self.called or self.name

    @property
    def default_directory_name(self) -> str:
        return (
            "SCIM provisioning" if self.idp == IdpProfile.generic else f"{self.name} provisioning"
        )


THIRD_PARTY = (
    "These steps follow third-party descriptions of this identity provider; its console may "
    "name things differently. The fields to fill are the same: the SCIM base URL and the token."
)

_ENTRA = IdpGuide(
    idp=IdpProfile.entra,
    name="Microsoft Entra ID",
    url_field="Tenant URL",
    token_field="Secret Token",
    oauth=(
        "Under Provisioning, Admin Credentials: choose the OAuth 2.0 client-credentials method "
        "instead of the secret token, and fill in the token endpoint, client id and client "
        "secret shown here beside the Tenant URL."
    ),
    steps=(
        Step(
            "Open the app in the Microsoft Entra admin center.",
            (
                "Go to Enterprise applications and open the application you sign in to us with.",
                "No application yet? Choose New application, then Create your own application, "
                "and pick \u201cIntegrate any other application you don't find in the gallery "
                "(Non-gallery)\u201d.",
            ),
        ),
        Step(
            "In the app's Provisioning page, set the Provisioning Mode to Automatic.",
        ),
        Step(
            "Under Admin Credentials, enter the connection.",
            (
                "Tenant URL: the SCIM base URL shown on this page.",
                "Secret Token: the token shown on this page.",
                "Select Test Connection. Entra looks up a user that does not exist and expects "
                "an empty answer: the status on this page turns green when that request arrives.",
                "Save.",
            ),
        ),
        Step(
            "Check the Mappings.",
            (
                "Keep \u201cProvision Microsoft Entra ID Users\u201d enabled. Users are matched "
                "on userName (by default Entra fills it with the userPrincipalName).",
                "Keep the groups mapping enabled only if you want groups sent; groups are "
                "matched on displayName.",
            ),
        ),
        Step(
            "Under Settings, set Scope to \u201cSync only assigned users and groups\u201d.",
            (
                "Then assign the people and groups who should have access, in the app's "
                "Users and groups page.",
            ),
        ),
        Step(
            "Test with one user before everyone.",
            (
                "Use Provision on demand with one assigned user and check that they appear "
                "in the status on this page.",
            ),
        ),
        Step(
            "Start provisioning.",
            (
                "Set Provisioning Status to On and save. The first cycle sends every assigned "
                "user and group; later cycles, about every 40 minutes, send only the changes.",
            ),
        ),
    ),
    expect=(
        "People who leave or are unassigned are deactivated (active set to false) rather "
        "than deleted.",
        "Groups are created empty, then filled with their members.",
        "To use Entra's newer request format, you may append ?aadOptscim062020 to the "
        "Tenant URL; both formats work.",
    ),
)

_OKTA = IdpGuide(
    idp=IdpProfile.okta,
    name="Okta",
    url_field="SCIM connector base URL",
    token_field="Bearer token, with Authentication Mode HTTP Header",
    steps=(
        Step(
            "Open the app integration in the Okta Admin Console.",
            (
                "Go to Applications, then Applications, and open the app integration you sign "
                "in to us with. SCIM can be added to a SAML or SWA integration made with the "
                "App Integration Wizard, not to an OIDC one.",
                "On its General tab, edit App Settings, set Provisioning to SCIM and save. A "
                "Provisioning tab appears.",
            ),
        ),
        Step(
            "In the app's Provisioning tab, under Settings, Integration, select Edit and fill in:",
            (
                "SCIM connector base URL: the SCIM base URL shown on this page.",
                "Unique identifier field for users: userName.",
                "Supported provisioning actions: Push New Users, Push Profile Updates and Push "
                "Groups (Import New Users and Profile Updates too, if you want to import).",
                "Authentication Mode: HTTP Header. Paste the token shown on this page as the "
                "Bearer token.",
            ),
        ),
        Step(
            "Select Test Connector Configuration, then Save.",
            ("The status on this page turns green when Okta's test request arrives.",),
        ),
        Step(
            "Still in the Provisioning tab, under Settings, To App, select Edit and enable:",
            ("Create Users, Update User Attributes and Deactivate Users. Save.",),
        ),
        Step(
            "Test with one user before everyone.",
            (
                "In the Assignments tab, assign the app to one person and check that they "
                "appear in the status on this page.",
                "Then assign the other people and groups.",
            ),
        ),
        Step(
            "Push groups, if you use them.",
            ("In the Push Groups tab, choose the groups to push; their members follow.",),
        ),
    ),
    expect=(
        "Okta never deletes users: unassigning or deactivating someone sets active to false.",
        "Okta may send profile changes as whole-user updates (PUT); they work the same.",
        "An import reads the users page by page, 100 at a time.",
    ),
)

_GOOGLE = IdpGuide(
    idp=IdpProfile.google,
    name="Google Workspace",
    url_field="Endpoint URL",
    token_field="Access token",
    steps=(
        Step(
            "Open the app in the Google Admin console.",
            (
                "Go to Apps, then Web and mobile apps, and open the custom SAML app you sign in "
                "to us with: Google's provisioning settings live in that app.",
            ),
        ),
        Step(
            "Open the app's Auto-provisioning section and configure it.",
            (
                "Access token: the token shown on this page.",
                "Endpoint URL: the SCIM base URL shown on this page.",
                "Continue. Google checks the connection with a request that lists one user: the "
                "status on this page turns green when it arrives.",
            ),
        ),
        Step(
            "Review the attribute mapping.",
            (
                "Map userName to the primary email, and map the first name, the last name and "
                "the email.",
            ),
        ),
        Step(
            "Set the provisioning scope and the deprovisioning.",
            (
                "Scope: the organizational units or groups whose members are sent. Start with "
                "a group holding one test user.",
                "Deprovisioning: choose what happens when someone leaves the scope, is "
                "suspended or is deleted.",
            ),
        ),
        Step(
            "Turn auto-provisioning on, and test with one user before everyone.",
            ("Check that the test user appears in the status on this page, then widen the scope.",),
        ),
    ),
    expect=(
        "Users are sent; groups are reported not to be.",
        "Only the attributes Google offers can be mapped: rely on userName, names, emails "
        "and active.",
    ),
    caution=THIRD_PARTY,
)

_ONELOGIN = IdpGuide(
    idp=IdpProfile.onelogin,
    name="OneLogin",
    url_field="SCIM Base URL",
    token_field="SCIM Bearer Token",
    steps=(
        Step(
            "Add the app in the OneLogin administration.",
            (
                "Go to Applications, select Add App, and choose \u201cSCIM Provisioner with SAML "
                "(SCIM v2 Enterprise)\u201d. Name it and save.",
            ),
        ),
        Step(
            "In the app's Configuration tab, enter the connection.",
            (
                "SCIM Base URL: the SCIM base URL shown on this page.",
                "SCIM Bearer Token: the token shown on this page.",
                "Under API Connection, select Enable, then save. The status on this page turns "
                "green when OneLogin's first request arrives.",
            ),
        ),
        Step(
            "In the app's Parameters tab, set the SCIM Username to the email.",
            (
                "It becomes the userName, which must be unique. Map the first name, the last "
                "name and the email too; to send groups, include the Groups parameter in user "
                "provisioning.",
            ),
        ),
        Step(
            "In the app's Provisioning tab, tick Enable provisioning.",
            (
                "Untick \u201cRequire admin approval before this action is performed\u201d for "
                "Create, Delete and Update, or approve each task under Users, Provisioning.",
                "When users are deleted in OneLogin or lose the app, choose Suspend: they are "
                "then deactivated (active set to false) rather than deleted.",
                "Save.",
            ),
        ),
        Step(
            "Test with one user before everyone.",
            (
                "Give one user the app (in their Applications tab, or through a role) and "
                "check that they appear in the status on this page.",
            ),
        ),
    ),
    expect=(
        "OneLogin builds requests from a SCIM JSON template you can edit; empty values may "
        "arrive as empty text.",
    ),
    caution=THIRD_PARTY,
)

_JUMPCLOUD = IdpGuide(
    idp=IdpProfile.jumpcloud,
    name="JumpCloud",
    url_field="Base URL",
    token_field="Token Key",
    steps=(
        Step(
            "Open the app in the JumpCloud Admin Portal.",
            (
                "Go to SSO Applications and open the SAML application you sign in to us with "
                "(or add a custom application that exports users to the app).",
            ),
        ),
        Step(
            "In the app's Identity Management tab, enter the connection.",
            (
                "SCIM version: SCIM 2.0.",
                "Base URL: the SCIM base URL shown on this page.",
                "Token Key: the token shown on this page.",
                "Test User Email: the email of a user of your JumpCloud directory.",
                "To send groups, enable the management of user groups and group membership.",
            ),
        ),
        Step(
            "Select Test Connection, then Activate, then Save.",
            (
                "The test creates a test user and a test group and then deletes them: they "
                "show in the provisioning log of this page.",
            ),
        ),
        Step(
            "Test with one user before everyone.",
            (
                "In the app's User Groups tab, select a group holding one user, save, and "
                "check that they appear in the status on this page. Then select the other "
                "groups.",
            ),
        ),
    ),
    expect=("Group membership changes arrive as additions and removals of members.",),
    caution=THIRD_PARTY,
)

_PING = IdpGuide(
    idp=IdpProfile.ping,
    name="Ping Identity",
    url_field="SCIM URL (PingFederate) or SCIM Base URL (PingOne)",
    token_field="Access Token, with the OAuth 2 Bearer Token method",
    oauth=(
        "In the SCIM provisioner's Authentication Method, choose OAuth 2.0 client credentials "
        "and fill in the token endpoint, client id and client secret shown here."
    ),
    steps=(
        Step(
            "Create the outbound provisioning connection.",
            (
                "PingFederate: with the SCIM Provisioner installed, create an SP connection "
                "with outbound provisioning through it.",
                "PingOne: go to Integrations, then Provisioning, add a new connection of type "
                "Identity Store, and select the SCIM tile.",
            ),
        ),
        Step(
            "Enter the target.",
            (
                "SCIM URL (SCIM Base URL in PingOne): the SCIM base URL shown on this page. In "
                "PingOne, the Users Resource is /Users.",
                "SCIM Version: 2.0.",
                "Authentication method: OAuth 2 Bearer Token, with the token shown on this "
                "page as the Access Token.",
                "Users are identified by userName, which the default filter looks up.",
                "Test the connection: the status on this page turns green when Ping's request "
                "arrives.",
            ),
        ),
        Step(
            "Choose what is provisioned.",
            (
                "Allow creating, updating and disabling users, and, if you use them, groups "
                "and their members.",
                "Map at least userName, the given name, the family name, the email and active.",
            ),
        ),
        Step(
            "Test with one user before everyone.",
            (
                "Limit the source (PingOne: the provisioning rule) to one test user, enable "
                "the channel or connection, and check that the user appears in the status on "
                "this page. Then widen the source.",
            ),
        ),
    ),
    expect=(
        "Ping first synchronises the users and groups it finds, then sends changes, group "
        "names and memberships included.",
    ),
    caution=(
        "Field names differ between PingFederate and PingOne and between versions; the values "
        "to enter do not."
    ),
)

_RIPPLING = IdpGuide(
    idp=IdpProfile.rippling,
    name="Rippling",
    url_field="SCIM base URL",
    token_field="bearer token",
    steps=(
        Step(
            "Open the custom app's SCIM settings in Rippling.",
            (
                "SCIM base URL: the SCIM base URL shown on this page.",
                "Bearer token: the token shown on this page.",
            ),
        ),
        Step(
            "Tick what the app supports: all of these work.",
            ("Supports Groups, Pagination, Create & Delete Groups, and Use PATCH to edit Groups.",),
        ),
        Step(
            "Test with one user before everyone.",
            (
                "Give one employee access to the app and check that they appear in the status "
                "on this page. Then give access to the others.",
            ),
        ),
    ),
    expect=(
        "Rippling sends the external id, the primary email and the names.",
        "Its retries may repeat a request; repeating one changes nothing.",
    ),
    caution=THIRD_PARTY,
)

_GENERIC = IdpGuide(
    idp=IdpProfile.generic,
    name="Other SCIM 2.0 client",
    called="your SCIM client",
    url_field="SCIM base URL",
    token_field="bearer token",
    oauth=(
        "Have the client obtain access tokens at the token endpoint (grant_type="
        "client_credentials, the client id and secret by HTTP Basic or in the form) and send "
        "each as its bearer token; it lasts an hour."
    ),
    steps=(
        Step(
            "Point the client at the SCIM base URL shown on this page.",
            (
                "It ends with your directory's id; users are at /Users and groups at /Groups "
                "below it.",
            ),
        ),
        Step(
            "Authenticate every request with the token.",
            ("Send the header: Authorization: Bearer followed by the token shown on this page.",),
        ),
        Step(
            "Identify users by userName, groups by displayName.",
            (
                "userName is unique and compared without regard to case.",
                "Send JSON bodies (application/scim+json or application/json).",
            ),
        ),
        Step(
            "Enable creating, updating and deactivating users, and groups if you use them.",
            (
                "Deactivate by setting active to false, or delete the user.",
                "The service describes what it supports at /ServiceProviderConfig, /Schemas "
                "and /ResourceTypes.",
            ),
        ),
        Step(
            "Test with one user before everyone.",
            ("Provision one user and check that they appear in the status on this page.",),
        ),
    ),
    expect=("Any client that follows SCIM 2.0 (RFC 7643 and RFC 7644) works.",),
)

GUIDES: dict[IdpProfile, IdpGuide] = {
    guide.idp: guide
    for guide in (_ENTRA, _OKTA, _GOOGLE, _ONELOGIN, _JUMPCLOUD, _PING, _RIPPLING, _GENERIC)
}
"""Every profile's guide, in the order the IT admin is offered them."""


def guide_for(idp: str | None) -> IdpGuide:
    """The guide of a profile; the generic one for none or an unknown one."""
    try:
        return GUIDES[IdpProfile(idp or IdpProfile.generic)]
    except ValueError:
        return _GENERIC
