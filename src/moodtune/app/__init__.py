"""User-facing layers over the public API: the command line and the web server."""
