"""Shared libraries of the platform's services: settings, logging, database, events, storage, HTTP, identity.

No service imports another service's code; what they share lives here, and the wire contracts
between them (event payloads, request/reply messages) live in `libs.contracts`.
"""
