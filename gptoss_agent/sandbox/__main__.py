"""``python -m gptoss_agent.sandbox build|doctor`` (the same commands as the main CLI's)."""

from gptoss_agent.sandbox.cli import main

raise SystemExit(main())
