"""`python -m neuralart layers BACKBONE`: a network's layers that the techniques can use, with their sizes."""

from __future__ import annotations

import sys

from ..models import BACKBONE_NAMES

PROBE_SIDE = 224


def add_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "layers", help="list a network's layers with their sizes",
        description="The layers a network offers to feature visualization and DeepDream, with each one's output "
                    f"size for a {PROBE_SIDE}x{PROBE_SIDE} photo and its channels (built with random weights: "
                    "nothing is downloaded).")
    parser.add_argument("backbone", choices=BACKBONE_NAMES, metavar="BACKBONE",
                        help=f"one of: {', '.join(BACKBONE_NAMES)}")
    parser.add_argument("--size", type=int, default=PROBE_SIDE, help=f"photo side for the sizes [default: "
                        f"{PROBE_SIDE}]")
    parser.set_defaults(run=run)


def layer_table(backbone_name: str, side: int = PROBE_SIDE) -> list[tuple[str, tuple[int, int, int], str]]:
    """(layer, output (height, width, channels), what it is used for) for each offered layer."""
    from ..models import get_backbone

    backbone = get_backbone(backbone_name, None)
    spec = backbone.spec
    if side < spec.min_size:
        raise ValueError(f"{backbone_name} needs photos of at least {spec.min_size} pixels; --size is {side}")
    names = tuple(dict.fromkeys(spec.feature_layers + spec.dream_layers))
    model = backbone.layer_model(names)
    import numpy as np

    outputs = model(np.zeros((1, side, side, 3), np.float32))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [(name, tuple(int(size) for size in output.shape[1:]), _uses(spec, name))
            for name, output in zip(names, outputs)]


def _uses(spec, name: str) -> str:
    """Which techniques offer the layer, and which use it by default."""
    offered = [use for use, layers in (("features", spec.feature_layers), ("dream", spec.dream_layers))
               if name in layers]
    defaults = [technique for technique, keys in (("features", ("features",)), ("dream", ("dream",)),
                                                  ("style", ("style", "style_content")))
                if any(name in spec.defaults.get(key, {}) for key in keys)]
    return ", ".join(offered) + (f"; default for {', '.join(defaults)}" if defaults else "")


def run(args) -> None:
    rows = layer_table(args.backbone, args.size)
    width = max(len(name) for name, _, _ in rows)
    print(f"{args.backbone}, for a {args.size}x{args.size} photo:")
    for name, (height, layer_width, channels), use in rows:
        print(f"  {name:<{width}}  {height:>4}x{layer_width:<4} {channels:>5} channels   {use}")
    sys.stdout.flush()
