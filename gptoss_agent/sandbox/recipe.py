"""The sandbox image's recipe (:class:`ImageRecipe`): what goes in, and its hash.

One recipe describes the image (Debian suite, packages, the unprivileged user). Both
build paths (:mod:`gptoss_agent.sandbox.image` with a Dockerfile,
:mod:`gptoss_agent.sandbox.build_offline` with debootstrap) read it from here, and the
image carries :meth:`ImageRecipe.recipe_hash` as a label so a current image can be told
from a stale one. Pure values, no engine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from gptoss_agent.sandbox.config import DATA_MOUNT, SANDBOX_HOME, SANDBOX_UID
from gptoss_agent.sandbox.kernel import MPL_CACHE

MPL_CACHE_COMMAND = f"MPLCONFIGDIR={MPL_CACHE} python3 -c 'import matplotlib.font_manager'"
"""The Dockerfile's command that builds matplotlib's font cache into the image."""

RECIPE_LABEL = "gptoss-agent.recipe"
"""Image label holding :meth:`ImageRecipe.recipe_hash`."""

DEFAULT_PACKAGES = (
    "python3",
    "python3-numpy",
    "python3-pandas",
    "python3-matplotlib",
    "python3-scipy",
    "python3-sympy",
    "python3-pil",
    "python3-pytest",  # the coding agents run test suites in the sandbox
)

Log = Callable[[str], None]
"""Receives the progress lines of a build."""


@dataclass(frozen=True)
class ImageRecipe:
    """What goes into the sandbox image.

    Attributes:
        suite: Debian release the image is built from.
        packages: Debian packages installed on top of the minimal base.
        uid: Uid (and gid) of the ``sandbox`` user.
        revision: Bumped whenever the build steps change in a way the hash must see.
    """

    suite: str = "bookworm"
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    uid: int = SANDBOX_UID
    revision: int = 2

    def recipe_hash(self) -> str:
        """A short, stable hash of the recipe (the image's identity)."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def environment(self) -> dict[str, str]:
        """Image-level environment (the session adds more at container creation)."""
        return {"HOME": SANDBOX_HOME, "LANG": "C.UTF-8", "MPLBACKEND": "Agg"}

    def import_changes(self) -> list[str]:
        """Dockerfile instructions applied by ``docker import`` (offline path)."""
        changes = [f"ENV {key}={value}" for key, value in self.environment().items()]
        changes += [
            f"USER {self.uid}:{self.uid}",
            f"WORKDIR {DATA_MOUNT}",
            'CMD ["python3"]',
            f"LABEL {RECIPE_LABEL}={self.recipe_hash()}",
        ]
        return changes

    def dockerfile(self) -> str:
        """The registry path's Dockerfile (needs ``debian:<suite>-slim`` from a registry)."""
        packages = " ".join(self.packages)
        env = " ".join(f"{key}={value}" for key, value in self.environment().items())
        return (
            f"FROM debian:{self.suite}-slim\n"
            "RUN apt-get update \\\n"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
            f"{packages} \\\n"
            " && rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man /usr/include\n"
            f"RUN groupadd --gid {self.uid} sandbox \\\n"
            f" && useradd --uid {self.uid} --gid {self.uid} --home-dir {SANDBOX_HOME} "
            "--create-home --shell /usr/sbin/nologin sandbox \\\n"
            f" && mkdir -p {DATA_MOUNT} && chown {self.uid}:{self.uid} {DATA_MOUNT} \\\n"
            f" && {MPL_CACHE_COMMAND} && chmod -R a+rX {MPL_CACHE}\n"
            f"ENV {env}\n"
            f"USER {self.uid}:{self.uid}\n"
            f"WORKDIR {DATA_MOUNT}\n"
            'CMD ["python3"]\n'
        )


DEFAULT_RECIPE = ImageRecipe()



def split_image_name(image: str) -> tuple[str, str]:
    """``"repo/name:tag"`` -> ``("repo/name", "tag")`` (tag ``latest`` if absent)."""
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return name, tag
