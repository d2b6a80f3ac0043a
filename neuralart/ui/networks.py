"""Which networks can run now: the network dropdowns say whether each one's trained weights are here, will
download on first use, or cannot be had (offline); a run refused for missing weights says so in a sentence, and a
button switches the tab to a network that is ready, in one click. Server paths stay out of the page (the log has
them)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import gradio as gr

from ..models import REGISTRY, WeightsUnavailableError, weights_cached, weights_downloadable

LOG = logging.getLogger("neuralart.app")
READY, DOWNLOAD, MISSING = "ready", "downloads on first use", "not available offline"
# Offered instead of a missing network, best first: the small ones run fastest on a CPU.
PREFERRED = ("squeezenet", "mobilenet", "inception_v3", "vgg16", "vgg19")


def weights_file(name: str, technique: str):
    spec = REGISTRY[name]
    return spec.weights_notop if technique != "class" else spec.weights_top


def readiness(name: str, technique: str, reachable: Callable | None = None) -> str:
    """READY, DOWNLOAD or MISSING for a network's ImageNet weights."""
    file = weights_file(name, technique)
    if file is None:
        return MISSING
    if weights_cached(file):
        return READY
    return DOWNLOAD if (reachable or weights_downloadable)(file) else MISSING


def network_choices(technique: str) -> list[tuple[str, str]]:
    """The dropdown's choices for the networks offering `technique`, each label saying whether it is ready."""
    reachable_hosts: dict[str, bool] = {}

    def reachable(file) -> bool:  # One quick connection per server, not per file.
        host = file.origin.split("/")[2]
        if host not in reachable_hosts:
            reachable_hosts[host] = weights_downloadable(file)
        return reachable_hosts[host]
    return [(f"{short_title(name)} · {readiness(name, technique, reachable)}", name)
            for name in REGISTRY if technique in REGISTRY[name].defaults]


def short_title(name: str) -> str:
    """"VGG16" for "VGG16 (Simonyan & Zisserman 2014)"."""
    return REGISTRY[name].title.split(" (")[0]


def ready_instead(technique: str, wanted: str) -> str | None:
    """A network offering `technique` whose weights are here already, other than `wanted`; None if none is."""
    return next((name for name in PREFERRED if name != wanted and technique in REGISTRY[name].defaults
                 and weights_cached(REGISTRY[name].weights_notop)), None)


def missing_weights_words(error: WeightsUnavailableError, technique: str) -> str:
    """The sentence a user reads when a run needs weights that are missing: what is missing, what to do."""
    LOG.warning("weights missing: %s", error)
    title = short_title(error.backbone_name) if error.backbone_name in REGISTRY else "This network"
    instead = ready_instead(technique, error.backbone_name)
    remedy = (f"{short_title(instead)} is ready: press “Use {short_title(instead)} instead”." if instead
              else "Choose “random (untrained)” weights to try the technique without training.")
    return f"{title}'s trained weights are not on this server and cannot be downloaded now. {remedy}"


def show_readiness(demo: gr.Blocks, dropdown: gr.Dropdown, technique: str) -> None:
    """When a page loads, its network dropdown marks each network ready, to be downloaded or missing."""
    demo.load(lambda: gr.update(choices=network_choices(technique)), None, dropdown, queue=False,
              api_visibility="private")


def wire_switch(button: gr.Button, event, shown: gr.State, backbone: gr.Dropdown, technique: str,
                dependents: list, updates: Callable[[str], list]) -> None:
    """After a run, show `button` when it was refused for missing weights and a ready network exists; a click
    selects that network and sets its `dependents` (layer sliders, loss weights) with `updates(name)`."""
    def offer(state):
        name = (state or {}).get("ready_instead")
        return gr.update(visible=bool(name), value=f"Use {short_title(name)} instead" if name else "Use it instead")

    def switch(state):
        name = (state or {}).get("ready_instead")
        if not name:
            return [gr.update()] * (2 + len(dependents))
        return [gr.update(visible=False), gr.update(value=name), *updates(name)]
    # A refused run ends in an error, after which Gradio runs only `.failure` listeners; a good one hides it.
    event.failure(offer, shown, button, queue=False, api_visibility="private")
    event.success(offer, shown, button, queue=False, api_visibility="private")
    button.click(switch, shown, [button, backbone, *dependents], queue=False, api_visibility="private")
