"""A lean Engine API client for the CLI: stdlib only, cheap to import.

`api.Client` speaks the Docker Engine REST API over a Unix socket (or loopback
TCP): version negotiation, JSON, chunked streams and the attach hijack.
`http` is its minimal HTTP/1.1 codec; `streams` holds the sans-I/O decoders.
Nothing here is imported eagerly, so `import dockyard.client` costs nothing.
"""
