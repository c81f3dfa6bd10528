"""``python -m gptoss_agent`` runs the ``gptoss-agent`` command line."""

from gptoss_agent.agent.cli.entry import main

raise SystemExit(main())
