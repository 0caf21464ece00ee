"""A rehearsal identity provider: drives a full provisioning lifecycle in an IdP's dialect."""
