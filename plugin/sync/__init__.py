"""FHIR server sync layer: client, capability detection, transactions, conflicts, outbox (no Flask here).

Rooms: ``client`` (HTTP, retries, paging, typed errors), ``capabilities`` (what the server can do, load
strategy), ``transaction`` (ChangeSet -> one transaction Bundle + Provenance, sending, results),
``conflict`` (409/412: re-read, re-apply, Conflict), ``outbox`` (saves that wait for the server),
``worker`` (the replay command).
"""
