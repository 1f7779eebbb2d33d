"""Geometry on the earth: distances, bearings, the camera index and camera selection."""
