"""Order JSON of the platforms whose shape takes more than a few lines to build, for `sandboxes/<platform>.py`."""
