"""The sandbox image: its recipe, its recipe hash, its status, and building it.

One :class:`ImageRecipe` describes the image (Debian suite, packages, the unprivileged
user). Both build paths install the same packages: :func:`build_image` uses a Dockerfile
(``FROM debian:<suite>-slim``) when a registry is reachable, and the offline path
(:mod:`gptoss_agent.sandbox.build_offline`: debootstrap from a Debian mirror, then
``docker import``) when not. Either way the image carries the recipe's hash as a label,
so ``--if-needed`` and the doctor can tell a current image from a stale one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from gptoss_agent.sandbox.config import DATA_MOUNT, DEFAULT_IMAGE, SANDBOX_HOME, SANDBOX_UID
from gptoss_agent.sandbox.engine import Engine
from gptoss_agent.sandbox.errors import ImageBuildError

MPL_CACHE = "/opt/gptoss/matplotlib"
"""Matplotlib's font cache, built into the image so the first plot does not build it."""

MPL_CACHE_COMMAND = f"MPLCONFIGDIR={MPL_CACHE} python3 -c 'import matplotlib.font_manager'"

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


@dataclass(frozen=True)
class ImageStatus:
    """What the engine holds under an image name.

    Attributes:
        image: The image name.
        present: Whether the engine has it.
        recipe_hash: The hash label it carries (``None`` if absent or unlabelled).
        expected_hash: The hash of the current recipe.
        size_bytes: Its size, when present.
    """

    image: str
    present: bool
    recipe_hash: str | None
    expected_hash: str
    size_bytes: int | None = None

    @property
    def current(self) -> bool:
        """Present and built from the current recipe."""
        return self.present and self.recipe_hash == self.expected_hash


def image_status(
    engine: Engine, image: str = DEFAULT_IMAGE, recipe: ImageRecipe = DEFAULT_RECIPE
) -> ImageStatus:
    """Inspect ``image`` in the engine and compare it with ``recipe``."""
    labels = engine.image_labels(image)
    if labels is None:
        return ImageStatus(image, False, None, recipe.recipe_hash())
    return ImageStatus(
        image, True, labels.get(RECIPE_LABEL), recipe.recipe_hash(), engine.image_size(image)
    )


def split_image_name(image: str) -> tuple[str, str]:
    """``"repo/name:tag"`` -> ``("repo/name", "tag")`` (tag ``latest`` if absent)."""
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return name, tag


def build_image(
    engine: Engine,
    image: str = DEFAULT_IMAGE,
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    method: str = "auto",
    mirror: str | None = None,
    if_needed: bool = False,
    log: Log = print,
    timeout_s: float = 3600.0,
) -> ImageStatus:
    """Build the sandbox image.

    Args:
        engine: The engine that will hold the image.
        image: Name to give it.
        recipe: What to put in it.
        method: ``"dockerfile"`` (needs a registry for the Debian base image),
            ``"offline"`` (debootstrap + import; needs root, debootstrap and a Debian
            mirror) or ``"auto"`` (Dockerfile if the base image can be had, else offline).
        mirror: Debian mirror for the offline path (default: the host's apt mirror).
        if_needed: Skip the build when the image exists with the current recipe hash.
        log: Receives progress lines.
        timeout_s: Deadline of the whole build.

    Raises:
        ImageBuildError: The build failed.
    """
    if method not in ("auto", "dockerfile", "offline"):
        raise ImageBuildError(f"unknown build method {method!r}")
    status = image_status(engine, image, recipe)
    if if_needed and status.current:
        log(f"image {image} is current (recipe {status.expected_hash}); nothing to build")
        return status
    if method == "auto":
        base = f"debian:{recipe.suite}-slim"
        log(f"checking whether the base image {base} can be pulled from a registry")
        method = "dockerfile" if engine.pull(base, timeout_s=120.0) else "offline"
        log(f"building with the {method} method")
    if method == "dockerfile":
        labels = {RECIPE_LABEL: recipe.recipe_hash()}
        for line in engine.build_image(recipe.dockerfile(), image, labels, timeout_s):
            log(line)
    else:
        from gptoss_agent.sandbox.build_offline import build_offline

        build_offline(engine, image, recipe, mirror=mirror, log=log, timeout_s=timeout_s)
    status = image_status(engine, image, recipe)
    if not status.current:
        raise ImageBuildError(f"built {image}, but the engine does not report it as current")
    log(f"built {image} (recipe {status.expected_hash}, {(status.size_bytes or 0) >> 20} MiB)")
    return status
