"""Batches on Ray: `python -m neuralart batch ... --ray ADDRESS` on a two-node cluster started on this machine
with Ray's own testing utility, and `--ray local`. A worker process killed mid-batch costs nothing but time (its
item is run again), a rerun skips everything done, and a file under its final name is always a whole PNG."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time

import pytest
from PIL import Image

from cluster_hooks import SLOW_FILE, read_events, two_node_cluster
from conftest import ROOT
from neuralart import cli, images

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")

PHOTOS = ("astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg", "styles/swirls.jpg", "styles/waves.jpg")
DREAM = ["--backbone", "squeezenet", "--weights", "none", "--max-side", "64", "--octaves", "1", "--quiet"]


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    with two_node_cluster(folder) as cluster:
        yield cluster, folder


@pytest.fixture
def six_photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in PHOTOS:
        shutil.copyfile(ROOT / "assets" / name, folder / os.path.basename(name))
    return folder


class WholeFilesWatch:
    """Looks at the output folder every few milliseconds while a batch runs: every file under a final name
    (*.png) must decode in full the moment it is seen."""

    def __init__(self, folder):
        self.folder, self.broken, self.seen = folder, [], set()
        self.running = True
        self.thread = threading.Thread(target=self.watch)
        self.thread.start()

    def watch(self) -> None:
        while self.running:
            self.look()
            time.sleep(0.005)

    def look(self) -> None:
        for name in os.listdir(self.folder) if self.folder.exists() else ():
            if name.endswith(".png") and name not in self.seen:
                try:
                    with Image.open(self.folder / name) as image:
                        image.load()
                    self.seen.add(name)
                except OSError as error:
                    self.broken.append((name, str(error)))

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.look()


def test_a_batch_survives_a_killed_worker_and_a_rerun_skips_it_all(two_nodes, six_photos, tmp_path):
    cluster, folder = two_nodes
    output, report = tmp_path / "dreams", tmp_path / "report.json"
    arguments = ["batch", "dream", str(six_photos), "-o", str(output), "--ray", cluster.address, "--worker-cpus",
                 "1", "--retries", "2", "--report", str(report), "--iterations", "15", *DREAM]
    (folder / SLOW_FILE).touch()
    statuses = []
    started = time.monotonic()
    batch = threading.Thread(target=lambda: statuses.append(cli.main(arguments)))
    watch = WholeFilesWatch(output)
    try:
        batch.start()
        deadline = time.monotonic() + 120
        while not read_events(folder, started):
            assert time.monotonic() < deadline, "no item started"
            time.sleep(0.05)
        killed = read_events(folder, started)[0][1]
        os.kill(killed, signal.SIGKILL)  # A worker process dies in the middle of its item.
        killed_at = time.monotonic()
        batch.join(timeout=600)
    finally:
        watch.stop()
        (folder / SLOW_FILE).unlink()
    assert statuses == [0]
    summary = json.loads(report.read_text())
    assert (summary["done"], summary["skipped"], summary["failed"]) == (6, 0, 0), summary
    names = sorted(f"{os.path.splitext(os.path.basename(name))[0]}.png" for name in PHOTOS)
    assert sorted(os.listdir(output)) == names, "every item, and no temporary file left"
    assert watch.broken == [] and watch.seen == set(names)
    assert all(images.read_recipe(str(output / name))["technique"] == "dream" for name in names)
    after_kill = {pid for _, pid, when in read_events(folder, killed_at)}
    assert after_kill and killed not in after_kill, "other worker processes took the killed one's item"

    written = {name: (output / name).stat().st_mtime_ns for name in names}
    assert cli.main(arguments) == 0
    summary = json.loads(report.read_text())
    assert (summary["done"], summary["skipped"], summary["failed"]) == (0, 6, 0), summary
    assert written == {name: (output / name).stat().st_mtime_ns for name in names}


def test_an_item_that_keeps_failing_is_reported_and_the_others_finish(two_nodes, six_photos, tmp_path, capsys):
    """A refused file is reported without retries; the others are written."""
    (six_photos / "truncated.jpg").write_bytes((ROOT / "assets" / "coffee.jpg").read_bytes()[:300])
    output = tmp_path / "dreams"
    cluster, _ = two_nodes
    status = cli.main(["batch", "dream", str(six_photos), "-o", str(output), "--ray", cluster.address,
                       "--iterations", "2", *DREAM])
    assert status == 1
    assert len(os.listdir(output)) == 6 and not (output / "truncated.png").exists()
    assert f"failed: {output / 'truncated.png'}: " in capsys.readouterr().err


def test_ray_local_starts_a_cluster_for_the_batch_and_ends_it(tmp_path):
    """Without a cluster to join, `--ray local` starts one on this machine for the batch and shuts it down."""
    import subprocess
    import sys

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in PHOTOS[:2]:
        shutil.copyfile(ROOT / "assets" / name, photos / os.path.basename(name))
    code = ("import sys, ray; from neuralart import cli; status = cli.main(sys.argv[1:]); "
            "print('connected after the batch:', ray.is_initialized()); sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code, "batch", "dream", str(photos), "-o", str(tmp_path / "out"),
                             "--ray", "local", "--worker-cpus", "1", "--iterations", "2", *DREAM[:-1]], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "connected after the batch: False" in result.stdout
    assert "batch dream: 2 done, 0 skipped, 0 failed" in result.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["astronaut.png", "chelsea.png"]
