"""One module per ``moodtune`` sub-command (see ``moodtune.app.cli.COMMANDS``)."""
