"""Directories scimgate pulls from their source (Google Workspace), written as pushes are."""
