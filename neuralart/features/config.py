"""Feature visualization's settings: which network, layer and filters, which objective, and how to optimise."""

from __future__ import annotations

import dataclasses
import numbers

from ..models import backbone_setting, weights_setting
from ..settings import check_settings, frame_every_setting, seed_setting, setting
from .algebra import Expression, parse_expression
from .classes import class_index

OBJECTIVES = ("channel", "neuron", "layer", "class")
MODES = ("quality", "classic")
FIGURES = ("grid", "diversity", "interpolation", "atlas")
CAPTIONS = ("index", "activation", "none")
# Each mode's own iteration count and step size: the chapter's 20 steps of size 1; Lucid's Adam at 0.05, with
# more iterations because each one is a small move in Fourier space.
MODE_ITERATIONS = {"classic": 20, "quality": 128}
MODE_STEP_SIZES = {"classic": 1.0, "quality": 0.05}
MAX_FILTERS = 256
# Lucid's notebooks subtract 100 times the diversity term; SqueezeNet's activations are of a similar size.
DIVERSITY_WEIGHT = 100.0


@dataclasses.dataclass(frozen=True)
class FilterConfig:
    """Settings of one feature-visualization run. Defaults: the chapter's VGG16 layer, filters 0-15, quality
    mode; `iterations` and `step_size` left as None take the mode's own (classic 20 x 1.0, quality 128 x 0.05).
    `figure` picks what is made (a grid, diversity or interpolation rows, an atlas of layers); `expression`
    replaces the objective with a weighted combination of terms (layer, filters, objective and class index are
    then not used). Every combination that does not make its figure is refused here, with what would.
    """

    backbone: str = backbone_setting("vgg16", "network to visualize")
    weights: str | None = weights_setting()
    layer: str | None = setting(None, "layer whose filters to visualize (none: the network's usual one; for the "
                                "class objective, its output)", label="Layer", optional=True)
    filters: str = setting("0-15", "filter index or range, e.g. 3, 0-15 or 0,4,9-12",
                           label="Filters (an index like 3, or a range like 0-15)")
    objective: str = setting("channel", "what to maximise: channel (a filter's mean), neuron (its centre unit), "
                             "layer (all of it) or class (a logit)", label="What to maximise", choices=OBJECTIVES,
                             also_written="an expression such as 'fire5:7 + fire5:12' (taken as --expression)")
    class_index: int = setting(0, "ImageNet class for the class objective, by index or name (13 or junco)",
                               label="Class index", low=0, high=100_000, integer=True)
    expression: str = setting("", "objectives combined with weights, e.g. 'fire5:7 + fire5:12 - 0.5*fire7:3' "
                              "(LAYER:FILTER is a filter's mean; also neuron(LAYER:FILTER), layer(LAYER), "
                              "class(NAME)); 'A -> B' for an interpolation; empty: one objective per filter",
                              label="Combined objective")
    figure: str = setting("grid", "what to make: grid (an image per filter), diversity (a row of different images "
                          "per objective), interpolation (a row morphing from one objective to another) or atlas "
                          "(a row of filters per layer, the chapter's figure)", label="Figure", choices=FIGURES)
    row_size: int = setting(5, "images in a diversity or interpolation row", label="Images per row", low=2,
                            high=12, integer=True)
    diversity_weight: float = setting(DIVERSITY_WEIGHT, "how hard diversity pushes a row's images apart (the "
                                      "weight of Lucid's diversity term)", label="Diversity weight", low=0.0,
                                      high=1e5, slider=(0, 1000, 5))
    layers: str = setting("", "the atlas's layers, one row each, comma-separated (empty: the chapter's early, "
                          "middle and late layers)", label="Atlas layers")
    captions: str = setting("index", "what each tile's caption says: index (its filter, class or image), "
                            "activation (that and the activation it reached) or none", label="Captions",
                            choices=CAPTIONS)
    negative: bool = setting(False, "show what the filter most dislikes instead", label="Negative")
    mode: str = setting("quality", "quality (Fourier parameterization, Adam, random transformations) or classic "
                        "(the chapter's)", label="Mode", choices=MODES)
    iterations: int | None = setting(
        None, "optimisation iterations per filter", label="Iterations", low=1, high=5000, integer=True,
        optional=True, none_means=f"the mode's own: quality {MODE_ITERATIONS['quality']}, classic "
        f"{MODE_ITERATIONS['classic']}", slider=(0, 1000, 1), old_names=("steps",))
    step_size: float | None = setting(
        None, f"step size (none: {MODE_STEP_SIZES['quality']:g} for Adam in quality mode, "
        f"{MODE_STEP_SIZES['classic']:g} for classic's normalised gradient)", label="Step size", low=1e-6,
        high=100.0, optional=True, old_names=("learning_rate",))
    size: int = setting(128, "side of each visualization in pixels", label="Image size (px)", low=32, high=512,
                        integer=True, slider=(32, 512, 16))
    batch_size: int = setting(16, "filters optimised together in one batch", label="Batch size", low=1, high=64,
                              integer=True)
    frame_every: int = frame_every_setting(8)
    seed: int = seed_setting()

    def __post_init__(self) -> None:
        if self.layer is not None and (not isinstance(self.layer, str) or not self.layer.strip()):
            raise ValueError(f"layer must be a layer name or None, got {self.layer!r}")
        if isinstance(self.filters, numbers.Integral) and not isinstance(self.filters, bool):
            object.__setattr__(self, "filters", str(int(self.filters)))
        if isinstance(self.class_index, str):
            try:
                object.__setattr__(self, "class_index", class_index(self.class_index))
            except ValueError as error:
                raise ValueError(f"class_index: {error}") from None
        self._take_expression_from_objective()
        parse_filters(self.filters)
        check_settings(self)
        _check_figure(self)

    def _take_expression_from_objective(self) -> None:
        """An expression given as the objective ("--objective 'fire5:7 + fire5:12'") is stored as `expression`,
        so the two spellings make one config."""
        for name in ("expression", "layers"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be text, got {getattr(self, name)!r}")
            object.__setattr__(self, name, getattr(self, name).strip())
        if not isinstance(self.objective, str) or self.objective in OBJECTIVES:
            return
        try:
            parse_expression(self.objective)
        except ValueError as error:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, or an objective expression; "
                             f"{error}") from None
        if self.expression and self.expression != self.objective.strip():
            raise ValueError("give the combined objective once: as objective or as expression, not both")
        object.__setattr__(self, "expression", self.objective.strip())
        object.__setattr__(self, "objective", "channel")

    @property
    def resolved_iterations(self) -> int:
        """Iterations per batch: this config's, or its mode's own."""
        return self.iterations if self.iterations is not None else MODE_ITERATIONS[self.mode]

    @property
    def resolved_step_size(self) -> float:
        """Step size: this config's, or its mode's own."""
        return self.step_size if self.step_size is not None else MODE_STEP_SIZES[self.mode]

    @property
    def filter_indices(self) -> tuple[int, ...]:
        return parse_filters(self.filters)

    @property
    def parsed_expression(self) -> Expression | None:
        """The combined objective, parsed (None without one)."""
        return parse_expression(self.expression) if self.expression else None

    @property
    def atlas_layers(self) -> tuple[str, ...]:
        """The atlas's layers as given (empty: the chapter's for the network)."""
        return tuple(name.strip() for name in self.layers.split(",") if name.strip())


def _check_figure(config: FilterConfig) -> None:
    """Refuse settings that do not make the chosen figure, saying what would."""
    parsed = config.parsed_expression
    figure = config.figure
    if (parsed or figure in ("diversity", "interpolation")) and config.mode != "quality":
        raise ValueError("combined objectives, diversity and interpolation are made in quality mode; choose mode "
                         "quality")
    if parsed and parsed.end is not None and figure != "interpolation":
        raise ValueError("'->' makes an interpolation: choose the interpolation figure, or remove '->'")
    if figure == "interpolation" and (parsed is None or parsed.end is None):
        if parsed is not None or config.objective not in ("channel", "neuron") or len(config.filter_indices) != 2:
            raise ValueError("an interpolation runs between two objectives: write 'A -> B' as the combined "
                             "objective, or give two filters (e.g. 7,12) with the channel or neuron objective")
    if figure == "atlas" and (parsed or config.objective not in ("channel", "neuron")):
        raise ValueError("the atlas shows filters of several layers: use the channel or neuron objective and "
                         "no combined objective")
    if config.layers and figure != "atlas":
        raise ValueError("layers lists the atlas's rows; choose the atlas figure, or leave layers empty")


def parse_filters(text) -> tuple[int, ...]:
    """'0-15' -> (0, ..., 15); '3' -> (3,); '0,4,9-12' -> (0, 4, 9, 10, 11, 12). Duplicates are dropped."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"filters must be an index or a range like 0-15, got {text!r}")
    indices: list[int] = []
    for part in (piece.strip() for piece in text.split(",")):
        first, dash, last = part.partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise ValueError(f"filters: {part!r} is not an index or a range like 0-15") from None
        if low < 0 or high < low:
            raise ValueError(f"filters: {part!r} must be an index >= 0 or a range low-high with low <= high")
        if high - low >= MAX_FILTERS or len(indices) + high - low >= MAX_FILTERS:
            raise ValueError(f"filters: at most {MAX_FILTERS} filters per run")
        indices.extend(index for index in range(low, high + 1) if index not in indices)
    return tuple(indices)
