"""Distribution: a registry server (`server/`) and the pull/push client (`client/`).

`proto.py` holds the pure parts of the OCI distribution spec shared by both:
media types, repository-name and digest grammar, error codes, Range and Link
header parsing.
"""
