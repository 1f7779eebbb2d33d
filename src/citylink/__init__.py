"""citylink: events in, the right cameras out, audited video grants for an operations centre."""

__version__ = "0.1.0"
