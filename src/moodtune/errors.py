"""The one exception type for problems a user can cause."""


class MoodtuneError(Exception):
    """A user-caused problem (bad file, no model, bad CSV, missing credentials).

    The message is meant for people: the CLI prints it without a traceback and
    the web server returns it in a JSON body.
    """
