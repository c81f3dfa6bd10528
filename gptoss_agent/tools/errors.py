"""The root of the tools package's errors, and the errors every tool shares.

Every exception the tools package defines derives from :class:`ToolError`. They fall in
two groups:

- raised to the developer or the loop: :class:`ToolRegistrationError` (registering a
  tool failed), :class:`ToolConfigError` (a tool was built with settings that cannot
  work) and :class:`ToolUnavailableError` (a call found the tool's machinery missing or
  broken; the loop ends the run, since the model cannot fix it);
- meant for the model: the argument errors of function tools
  (:class:`~gptoss_agent.tools.json_args.ArgumentsError`), the browser's
  :class:`~gptoss_agent.tools.browser.errors.BrowserError` family and the coding tools'
  :class:`~gptoss_agent.tools.coding.v4a.PatchError`. Their messages are written for the
  model; the tool that raises one catches it and returns it as a ``ToolResult``, so they
  do not reach the developer.

This module imports nothing: the coding tools load it inside the sandbox, together with
the patch code whose errors derive from :class:`ToolError`.
"""


class ToolError(Exception):
    """Base of every error the tools package raises."""


class ToolRegistrationError(ToolError):
    """A tool could not be registered (duplicate name, bad schema, unsupported signature)."""


class ToolConfigError(ToolError, ValueError):
    """A tool was constructed with settings that cannot work (e.g. a missing folder)."""


class ToolUnavailableError(ToolError):
    """A tool's infrastructure (Docker engine, Chromium) is missing or broken."""
