"""neural art studio: the Gradio web app. Three tabs (neuralart.ui) over the `neuralart` core package.

Run `python app.py`; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT choose where it listens (docs/serving.md), and
NEURALART_RAY_ADDRESS a Ray cluster to run the jobs on (docs/scaling.md).
"""

from __future__ import annotations

import logging
import os

import gradio as gr

from neuralart import cluster
from neuralart.ui import dream_tab, features_tab, style_tab
from neuralart.ui.networks import show_readiness

from neuralart.ui.streaming import TF_JOBS
from neuralart.ui.widgets import guard_number_inputs, harden_pillow

# Each technique's Run button sits below a long column of settings, and its results head the column beside it:
# sticky, the results column keeps the image in view beside whatever part of the settings is shown, so the frames
# stream where the user looks. A sticky column cannot leave its row, whose end lies just below Run: with Run in
# the middle of the window or lower, the column stays whole on screen only if it is at most about two thirds of the
# window tall, so it is held to that and scrolls within itself (the image, the progress bar and the status line
# come first). Where the columns stack
# (narrow screens) it is the last item of its row and the rules do nothing. Gradio's container hides its overflow,
# which would make it the scroll container sticky positions refer to; `clip` cuts the same overflow without being
# one. Sticky, the column is a stacking context, lifted above the settings' labels (Gradio's layer 4) so they do
# not show through its image's full-screen view. On a phone the three tab names must fit one row, or Gradio hides
# the last ones behind a menu.
APP_CSS = """
.gradio-container { overflow: clip !important; }
.results-column { position: sticky; top: 8px; align-self: flex-start; max-height: 66vh; overflow-y: auto;
                  z-index: calc(var(--layer-4) + 1); }
.run-image img { max-height: 36vh; object-fit: contain; }
.run-progress { position: relative; height: 1.6em; border-radius: 4px; background: var(--neutral-200);
                overflow: hidden; }
.run-progress-bar { position: absolute; inset: 0 auto 0 0; background: var(--color-accent); opacity: 0.55; }
.run-progress-words { position: relative; padding-left: 0.5em; font-size: 0.9em; line-height: 1.6em; }
@media (max-width: 480px) {
  .tab-wrapper .tab-container > button { padding: 0 5px !important; font-size: 12.5px !important; }
}
"""


def build_demo() -> gr.Blocks:
    """The whole app. Builds widgets only: no network is loaded until a job runs."""
    harden_pillow()
    with gr.Blocks(title="neural art studio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# neural art studio\nSee what convolutional networks see — and make art from it.")
        with gr.Tab("Feature visualization", id="features"):
            networks = {"features": features_tab.build()}
        with gr.Tab("DeepDream", id="dream"):
            networks["dream"] = dream_tab.build()
        with gr.Tab("Style transfer", id="style"):
            networks["style"] = style_tab.build()
        for technique, dropdown in networks.items():
            show_readiness(demo, dropdown, technique)
    demo.queue(default_concurrency_limit=1, max_size=int(os.environ.get("NEURALART_QUEUE_SIZE", "20")),
               api_open=False)
    guard_number_inputs(demo)
    if cluster.requested_address():
        # On a Ray cluster, as many jobs run at once as it has workers, however many machines join or leave.
        cluster.app_executor(on_resize=lambda workers: set_concurrency(demo, TF_JOBS, workers))
    return demo


def set_concurrency(demo: gr.Blocks, concurrency_id: str, limit: int) -> None:
    """Let `limit` events of `concurrency_id` run at once from now on. Gradio reads an event's limit when its
    group first queues (and then only lowers it), and the group's limit before each event it starts, so both
    change; 0 holds the queue until workers come."""
    for block_function in demo.fns.values():
        if block_function.concurrency_id == concurrency_id:
            block_function.concurrency_limit = limit
    event_queue = demo._queue.event_queue_per_concurrency_id.get(concurrency_id)
    if event_queue is not None:
        event_queue.concurrency_limit = limit


def launch_options() -> dict:
    """The hardened launch settings (docs/serving.md).

    Listens on GRADIO_SERVER_NAME, else 0.0.0.0 on a Hugging Face Space (SPACE_ID is set there) and 127.0.0.1
    anywhere else; GRADIO_SERVER_PORT picks the port, else Gradio takes the first free one from 7860.
    NEURALART_MAX_FILE_SIZE bounds uploads: a 40-megapixel phone JPEG is 10-20 MB, and the loader refuses
    images above its pixel limit before decoding them.
    """
    port = os.environ.get("GRADIO_SERVER_PORT")
    default_host = "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"
    return dict(server_name=os.environ.get("GRADIO_SERVER_NAME", default_host),
                server_port=int(port) if port else None,
                max_file_size=os.environ.get("NEURALART_MAX_FILE_SIZE", "20mb"), show_error=False,
                enable_monitoring=False, share=False, ssr_mode=False, mcp_server=False, run_history=False,
                strict_cors=True, css=APP_CSS)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    build_demo().launch(**launch_options())


if __name__ == "__main__":
    main()
