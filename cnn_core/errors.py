"""The project's own error type. Every error a user can cause (a bad spec, config, upload, run
id or dataset) is a CnnLabError whose message says what is wrong and what to do; pages and the
command line catch this one type and show the message, never a traceback.
"""


class CnnLabError(Exception):
    """Base of every error whose message is meant for the user."""
