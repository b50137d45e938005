"""The audit log: one ``AuditEvent`` per decision, in a memory ring and optionally a JSONL file.

- ``event``: ``AuditEvent``, built eagerly; its constructor bounds and cleans every string it holds;
- ``log``: ``AuditLog``, the thread-safe ring, the file sink and more sinks (``labkit.observability``);
- ``files``: the JSONL file, opened append-only, never through a symlink, created 0600, and read back.
"""

from __future__ import annotations

from .event import MAX_ACTORS, MAX_SCOPES, AuditEvent, Decision, events_to_dataframe
from .files import MAX_LINE, AuditFileError, InvalidLine, open_append_only, read_audit_file, read_jsonl
from .log import AuditLog

__all__ = [
    "MAX_ACTORS", "MAX_LINE", "MAX_SCOPES", "AuditEvent", "AuditFileError", "AuditLog", "Decision", "InvalidLine",
    "events_to_dataframe", "open_append_only", "read_audit_file", "read_jsonl"
]
