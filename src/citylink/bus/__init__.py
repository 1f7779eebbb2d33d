"""The event bus: a port, and implementations that services never see."""
