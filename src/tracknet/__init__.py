"""TrackNET."""
