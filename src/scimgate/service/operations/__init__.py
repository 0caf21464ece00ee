"""Operating the service: readiness, metrics, the provisioning log and its writer, and
periodic upkeep."""
