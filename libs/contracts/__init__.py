"""Wire contracts between services: event payloads, stream names and request/reply messages.

A service publishes and consumes only what is declared here, so producers and consumers agree
without importing each other's code.
"""
