"""Jobs: one run of a technique described as data (which technique, its config, its input images), so that the
web app, the command line and a batch can hand the same description to whatever runs it: this process by default,
or a pool of workers elsewhere.

`run_job(job)` runs it here and returns the technique's generator of Frames; an executor with the same
`frames(job)` method can run it anywhere else that has this package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

from .frames import Frame


@dataclasses.dataclass(frozen=True)
class Job:
    """One run: `technique` names it (see TECHNIQUES), `config` is its frozen config, `images` its named inputs
    (paths, PIL images or uint8 arrays; a mask may be a float array), as the technique's function takes them: "image"
    for dream and zoom, with an optional "guide" (and, for dream, "mask"); "content" and "styles" for style."""

    technique: str
    config: object
    images: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.technique not in TECHNIQUES:
            raise ValueError(f"Unknown technique {self.technique!r}; choose one of {', '.join(TECHNIQUES)}")
        object.__setattr__(self, "images", MappingProxyType(dict(self.images)))


def _dream(job: Job, backbone=None) -> Iterator[Frame]:
    from .deepdream import dream

    return dream(job.images["image"], job.config, backbone, **_optional_images(job, ("guide", "mask")))


def _zoom(job: Job, backbone=None) -> Iterator[Frame]:
    from .deepdream import zoom

    return zoom(job.images["image"], job.config, backbone, **_optional_images(job, ("guide",)))


def _optional_images(job: Job, names: tuple[str, ...]) -> dict:
    """The job's images among `names` that it has (a run without them calls the technique as before)."""
    return {name: job.images[name] for name in names if job.images.get(name) is not None}


def _filters(job: Job, backbone=None) -> Iterator[Frame]:
    from .features import visualize

    return visualize(job.config, backbone)


def _style(job: Job, backbone=None) -> Iterator[Frame]:
    from .style_transfer import stylize

    return stylize(job.images["content"], job.images["styles"], job.config, backbone,
                   style_masks=job.images.get("style_masks"))


# technique -> the function that starts its run (job, optional backbone) -> Frames.
TECHNIQUES: Mapping[str, Callable] = MappingProxyType({"dream": _dream, "filters": _filters, "style": _style,
                                                       "zoom": _zoom})


def run_job(job: Job, backbone=None) -> Iterator[Frame]:
    """The job's frames, computed in this process. Inputs are checked before this returns, as the technique does."""
    return TECHNIQUES[job.technique](job, backbone)


class InProcess:
    """The default executor: every job runs in this process."""

    def frames(self, job: Job) -> Iterator[Frame]:
        return run_job(job)
