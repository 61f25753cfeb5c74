"""Configuration: schema (defaults and limits), validation and composition of the packaged conf/ tree."""

from .compose import compose, register_schema, to_config
from .errors import ConfigError
from .schema import NODE_TYPES, Config
from .validate import validate

__all__ = ["Config", "ConfigError", "NODE_TYPES", "compose", "register_schema", "to_config", "validate"]
