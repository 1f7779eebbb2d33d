"""The HTTP API: create_app builds it; one router per resource under routes/."""
