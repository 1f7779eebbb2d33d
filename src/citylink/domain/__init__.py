"""The pure core: events, incidents, cameras, agencies, grants and audit records. No I/O here."""
