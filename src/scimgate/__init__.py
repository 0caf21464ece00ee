"""scimgate: a self-hostable SCIM 2.0 provisioning service for B2B SaaS."""

__version__ = "0.1.0"
