"""The error hierarchy of the tools package (errors raised to the developer, not the model)."""


class ToolError(Exception):
    """Base of every error the tools package raises."""


class ToolRegistrationError(ToolError):
    """A tool could not be registered (duplicate name, bad schema, unsupported signature)."""


class ToolUnavailableError(ToolError):
    """A tool's infrastructure (Docker engine, Chromium) is missing or broken."""
