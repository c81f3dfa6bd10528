"""The sandbox image in the engine: its status, and building it.

:func:`build_image` builds the image of an :class:`~gptoss_agent.sandbox.recipe.ImageRecipe`
with a Dockerfile (``FROM debian:<suite>-slim``) when a registry is reachable, and with
the offline path (:mod:`gptoss_agent.sandbox.build_offline`: debootstrap from a Debian
mirror, then ``docker import``) when not. Either way the image carries the recipe's hash
as a label, so :func:`image_status`, ``--if-needed`` and the doctor can tell a current
image from a stale one.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_agent.sandbox.build_offline import build_offline
from gptoss_agent.sandbox.config import DEFAULT_IMAGE
from gptoss_agent.sandbox.engine import Engine
from gptoss_agent.sandbox.errors import ImageBuildError
from gptoss_agent.sandbox.recipe import DEFAULT_RECIPE, RECIPE_LABEL, ImageRecipe, Log


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
        build_offline(engine, image, recipe, mirror=mirror, log=log, timeout_s=timeout_s)
    status = image_status(engine, image, recipe)
    if not status.current:
        raise ImageBuildError(f"built {image}, but the engine does not report it as current")
    log(f"built {image} (recipe {status.expected_hash}, {(status.size_bytes or 0) >> 20} MiB)")
    return status
