"""Print the requirements of one optional-dependency group of pyproject.toml, one per line.

The setup steps install an extra's requirements without reinstalling the package itself
(another step may be importing it at the same moment), and the pins stay in pyproject.toml.
"""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
print("\n".join(project["optional-dependencies"][sys.argv[1]]))
