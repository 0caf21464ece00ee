"""The SCIM use cases an identity provider drives: users, groups, Bulk, listing, discovery,
and what each request runs within (its directory, its credentials, its limits)."""
