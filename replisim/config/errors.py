"""The one exception type for user mistakes in a configuration."""


class ConfigError(ValueError):
    """A configuration a user wrote is invalid. The message is one line naming key, value and what is allowed.

    The command line turns it into exit code 2 and no traceback.
    """
