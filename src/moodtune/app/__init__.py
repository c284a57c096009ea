"""Drawing boxes and labels on images (``draw``); the command line is ``moodtune.cli``, the web app ``moodtune.web``."""
