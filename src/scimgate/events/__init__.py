"""What scimgate tells the app about a directory: event types, payload models, their schema.

Pure: no I/O. The service layer builds these payloads in the transaction of
each change; :mod:`scimgate.client` hands the same models to the app.
"""
