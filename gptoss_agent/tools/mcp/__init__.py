"""Tools from MCP servers: a client on the official ``mcp`` SDK.

:class:`MCPServer` (in :mod:`.server`) turns one server, reached over stdio (a command)
or Streamable HTTP (a URL with headers), into a tool group: its tools shown inside
``functions`` with the server's name as a prefix, or as their own namespace.
:class:`MCPServerConfig` (:mod:`.config`) says where the server is. The other modules:
:mod:`.connection` (one live SDK session), :mod:`.supervisor` (starts, restarts, the tool
listing), :mod:`.listing` and :mod:`.names` (what the model sees, argument checks),
:mod:`.results` (results as tool messages), :mod:`.runner` (the loop thread connections
live on). Importing this package does not import the SDK; its names load on first use.

Example::

    from gptoss_agent.tools.mcp import MCPServer, MCPServerConfig

    time = MCPServer(MCPServerConfig("time", command="python", args=["-m", "mcp_server_time"]))
    agent = Agent(model=..., tools=[time])      # the model calls functions.time_get_current_time
"""

from gptoss_agent._lazy import lazy_exports

_WHERE = {
    "MCPServer": "gptoss_agent.tools.mcp.server",
    "MCPServerConfig": "gptoss_agent.tools.mcp.config",
    "MCPServerError": "gptoss_agent.tools.mcp.errors",
}

__all__ = ["MCPServer", "MCPServerConfig", "MCPServerError"]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
