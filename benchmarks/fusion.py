"""Vertical fusion speed: CollageNet vs the data-driven baseline, and a 3-minute song end to end.

Measures, on this machine (one PyTorch thread, as shipped):

- warm latency of one 8-beat pair (encode, transform, decode) for CollageNet
  and for the data-driven baseline at its default step count;
- batched throughput (pairs/s) for both, on a batch of POP909 test pairs;
- a whole ~3-minute song (a POP909 test melody over another test song's
  piano, looped/trimmed to 3 minutes) fused by ``collage.fusion.vertical.fuse``
  in a fresh process, model loading included, with its peak RSS;
- a long input (``--long-minutes``, default 90: the same melody repeated
  over the same piano, looped), to show that memory stays bounded: the
  windows go through the models 256 at a time.

Writes ``docs/results/fusion_speed.md`` (``--out``) and prints the table.

    python benchmarks/fusion.py            # shipped models
    python benchmarks/fusion.py --tiny     # tiny random models (a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import best_time, loadavg, machine, version  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

PEAK = r"""
def peak_mib():
    # VmHWM is this process's own high-water mark; ru_maxrss would include the parent's at the fork
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

SONG_SCRIPT = PEAK + r"""
import json, resource, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads(1)
import numpy as np
from collage.datasets.pop909 import load_song
from collage.piece import Piece
from collage.fusion.vertical import fuse, FusionModels
tiny = sys.argv[1] == "1"
mel_song, acc_song, seconds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
a, b = load_song(mel_song).piece, load_song(acc_song).piece
t1 = time.perf_counter()
models = FusionModels.tiny() if tiny else FusionModels.load()
t2 = time.perf_counter()
res = fuse(a, b, melody_track="MELODY", accomp_tracks=["PIANO"], method="collagenet", models=models, fit="trim")
t3 = time.perf_counter()
print(json.dumps({"duration_s": float(res.piece.duration_s()) if callable(res.piece.duration_s) else float(res.piece.duration_s),
                  "import_s": t1 - t0, "load_s": t2 - t1, "fuse_s": t3 - t2, "total_s": t3 - t0,
                  "n_windows": res.n_windows, "n_steps": res.n_steps, "melody_qpm": res.melody_qpm,
                  "maxrss_mib": peak_mib()}))
"""

LONG_SCRIPT = PEAK + r"""
import json, resource, sys, tempfile, time
import torch
torch.set_num_threads(1)
import symusic
from collage.datasets.pop909 import pop909_root
from collage.fusion.vertical import fuse, FusionModels
tiny = sys.argv[1] == "1"
mel_song, acc_song, minutes = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
src = symusic.Score(str(pop909_root() / f"{mel_song:03d}" / f"{mel_song:03d}.mid"))
melody = next(t for t in src.tracks if t.name == "MELODY")
period = src.end() + src.ticks_per_quarter * 4
seconds = symusic.Score(str(pop909_root() / f"{mel_song:03d}" / f"{mel_song:03d}.mid"), ttype="second").end()
repeats = max(1, int(round(minutes * 60 / seconds)))
long = symusic.Score(src.ticks_per_quarter)
long.tempos, long.time_signatures = src.tempos, src.time_signatures
track = symusic.Track("MELODY", program=melody.program)
for k in range(repeats):
    for n in melody.notes:
        track.notes.append(symusic.Note(n.time + k * period, n.duration, n.pitch, n.velocity))
long.tracks.append(track)
with tempfile.TemporaryDirectory() as d:
    path = f"{d}/long.mid"
    long.dump_midi(path)
    t0 = time.perf_counter()
    models = FusionModels.tiny() if tiny else FusionModels.load()
    res = fuse(path, str(pop909_root() / f"{acc_song:03d}" / f"{acc_song:03d}.mid"), accomp_tracks=["PIANO"],
               models=models, fit="loop")
    t1 = time.perf_counter()
print(json.dumps({"repeats": repeats, "n_windows": res.n_windows, "fuse_with_loading_s": t1 - t0,
                  "maxrss_mib": peak_mib()}))
"""


def test_pairs(n: int, seed: int = 0):
    from collage.datasets.pop909 import disharmonic_pairs, pop909_segments
    from collage.training.latents import segment_chords

    segs = pop909_segments("test", grid="beats")
    pd = disharmonic_pairs(segs, n, seed)
    mels = [segs.melody(int(i)) for i in pd[:, 0]]
    accs = [segs.accomp(int(j)) for j in pd[:, 1]]
    return mels, accs, segment_chords(segs, pd[:, 1]), segs


def pick_songs(segs, minutes: float = 3.0):
    """The two test songs whose durations are nearest ``minutes`` (melody song, accompaniment song)."""
    from collage.datasets.pop909 import load_song

    ids = np.array([int(s) for s in segs.songs])
    dur = np.array([load_song(int(s)).piece.duration_s for s in ids])
    order = np.argsort(np.abs(dur - minutes * 60))
    return int(ids[order[0]]), int(ids[order[1]])


TARGET_RATIO = 50.0


def break_even_steps(rows: dict, batch: int, steps: int, target: float) -> dict:
    """Adam steps at which the data-driven baseline would be ``target`` times slower than CollageNet.

    Linear model of the baseline's time, both measured in this run: ``shared + n * per_step``, where
    ``per_step`` is its latent transform's time divided by ``steps`` and ``shared`` (encoding,
    decoding) is its total time minus that transform. Solved for latency (one pair, ms) and for the
    batch (``batch`` pairs, s), and for the latent transform alone (no shared part).
    """
    c, g = rows["collagenet"], rows["gradient"]
    out = {}
    for key, total_c, total_g, tr_g, tr_c in (
        ("latency", c["latency_ms"], g["latency_ms"], g["latent_step_ms_one"], c["latent_step_ms_one"]),
        ("throughput", 1000 * batch / c["throughput_pairs_s"], 1000 * batch / g["throughput_pairs_s"],
         g["latent_step_ms_batch"], c["latent_step_ms_batch"]),
    ):
        per_step = tr_g / steps
        out[key] = int(np.ceil((target * total_c - (total_g - tr_g)) / per_step))
        out[f"transform_{key}"] = int(np.ceil(target * tr_c / per_step))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random models")
    ap.add_argument("--batch", type=int, default=256, help="pairs in the throughput batch")
    ap.add_argument("--repeat", type=int, default=5, help="repeats of the single-pair timing (best kept)")
    ap.add_argument("--long-minutes", type=float, default=90.0, help="length of the long input (0: skip it)")
    ap.add_argument("--out", default=str(REPO / "docs" / "results" / "fusion_speed.md"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    from collage.fusion.gradient import DEFAULT_STEPS
    from collage.fusion.vertical import FusionModels, fuse_windows

    # torch modules: the latent-transform timings call them directly, as the gradient baseline needs torch
    models = FusionModels.tiny() if args.tiny else FusionModels.load(critic="latent_critic_pretrained", engine="torch")
    mels, accs, chords, segs = test_pairs(max(args.batch, 1))
    ctl = {"pitch": 0.5, "rhythm": 0.5, "chord": 0.5, "texture": 0.5}

    def one(method):
        return lambda: fuse_windows(mels[:1], accs[:1], method=method, controls=ctl, models=models,
                                    chords=chords[:1])

    def batch(method):
        return lambda: fuse_windows(mels, accs, method=method, controls=ctl, models=models, chords=chords)

    one("collagenet")()  # warm up
    one("gradient")()
    rows = {}
    for method in ("collagenet", "gradient"):
        lat = best_time(one(method), args.repeat)
        bt = best_time(batch(method), 1 if method == "gradient" else 2)
        rows[method] = {"latency_ms": 1000 * lat, "throughput_pairs_s": len(mels) / bt}
    # the transform alone (latent step), without the VAEs
    from collage.fusion.gradient import encode_pairs, gradient_fuse_latents

    za, zb = encode_pairs(models.melody_vae, models.accomp_vae, mels, accs, chords=chords)
    c = torch.full((len(za), 4), 0.5)
    with torch.no_grad():
        t_actor = best_time(lambda: models.actor.transform(za, zb, c), 3)  # at the actor's default iterations
    t_grad = best_time(lambda: gradient_fuse_latents(za, zb, models.critic, steps=DEFAULT_STEPS), 1)
    rows["collagenet"]["latent_step_ms_batch"] = 1000 * t_actor
    rows["gradient"]["latent_step_ms_batch"] = 1000 * t_grad
    with torch.no_grad():
        t_actor1 = best_time(lambda: models.actor.transform(za[:1], zb[:1], c[:1]), args.repeat)
    t_grad1 = best_time(lambda: gradient_fuse_latents(za[:1], zb[:1], models.critic, steps=DEFAULT_STEPS), args.repeat)
    rows["collagenet"]["latent_step_ms_one"] = 1000 * t_actor1
    rows["gradient"]["latent_step_ms_one"] = 1000 * t_grad1
    break_even = break_even_steps(rows, len(mels), DEFAULT_STEPS, TARGET_RATIO)

    a, b = pick_songs(segs)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", SONG_SCRIPT, "1" if args.tiny else "0", str(a), str(b), "180"],
                         capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t
    if out.returncode:
        raise SystemExit(out.stderr)
    song = json.loads(out.stdout.strip().splitlines()[-1])
    song["wall_s"] = wall
    song["songs"] = [a, b]
    long = None
    if args.long_minutes > 0:
        out = subprocess.run([sys.executable, "-c", LONG_SCRIPT, "1" if args.tiny else "0", str(a), str(b),
                              str(args.long_minutes)], capture_output=True, text=True, env=env, cwd=REPO)
        if out.returncode:
            raise SystemExit(out.stderr)
        long = json.loads(out.stdout.strip().splitlines()[-1])
    peak_bench = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    ratio_lat = rows["gradient"]["latency_ms"] / rows["collagenet"]["latency_ms"]
    ratio_thr = rows["collagenet"]["throughput_pairs_s"] / rows["gradient"]["throughput_pairs_s"]
    ratio_latent = rows["gradient"]["latent_step_ms_batch"] / rows["collagenet"]["latent_step_ms_batch"]
    song_minutes = song["duration_s"] / 60
    lines = [
        "# Vertical fusion speed",
        "",
        f"`python benchmarks/fusion.py{' --tiny' if args.tiny else ''}` on {machine()}; "
        f"torch {version('torch')}, 1 thread; load average at the end {loadavg()} "
        "(timings are best-of-N; a load above 1 means other jobs shared the cores).",
        "",
        f"Models: {'tiny random (smoke run)' if args.tiny else 'shipped melody_vae, accomp_vae, latent_actor, latent_critic_pretrained'}; "
        f"CollageNet's actor applied {models.actor.config.iterations} time(s) (its default); "
        f"data-driven baseline at its default {DEFAULT_STEPS} Adam steps.",
        "",
        "| method | warm latency, one 8-beat pair (ms) | throughput, batch of "
        f"{len(mels)} (pairs/s) | latent transform of the batch alone (ms) |",
        "|---|---:|---:|---:|",
    ]
    for m, r in rows.items():
        lines.append(f"| {m} | {r['latency_ms']:.1f} | {r['throughput_pairs_s']:.1f} | {r['latent_step_ms_batch']:.1f} |")
    lines += [
        "",
        f"CollageNet vs data-driven: {ratio_lat:.1f}x lower latency, {ratio_thr:.1f}x higher throughput, "
        f"{ratio_latent:.0f}x faster latent transform (the VAEs' encoding and decoding are shared by both).",
        "",
        f"Steps the data-driven baseline would need for CollageNet to be {TARGET_RATIO:.0f}x faster (its time "
        f"taken as shared + steps x per-step, both measured above): {break_even['latency']} for the latency, "
        f"{break_even['throughput']} for the throughput, and {break_even['transform_latency']} / "
        f"{break_even['transform_throughput']} for the latent transform alone (one pair / the batch); "
        f"its default, chosen on val, is {DEFAULT_STEPS} (`fusion_gradient_steps.json`).",
        "",
        f"Whole song end to end (fresh process: imports, model loading, `fuse`): POP909 test song {a}'s melody over "
        f"song {b}'s piano, trimmed to the shorter (~{song_minutes:.1f} min, {song['n_windows']} windows): "
        f"**{song['total_s']:.2f} s** (imports and reading the two songs {song['import_s']:.2f} s, loading {song['load_s']:.2f} s, "
        f"fusion {song['fuse_s']:.2f} s); peak RSS **{song['maxrss_mib']:.0f} MiB**.",
        "",
        f"Peak RSS of the benchmark process itself (batch of {len(mels)}): {peak_bench:.0f} MiB.",
        "",
    ]
    if long:
        lines += [f"Long input: song {a}'s melody repeated {long['repeats']} times (~{args.long_minutes:.0f} min, "
                  f"{long['n_windows']} windows) over song {b}'s piano, looped: {long['fuse_with_loading_s']:.1f} s "
                  f"with model loading, peak RSS **{long['maxrss_mib']:.0f} MiB**.", ""]
    lines += [
        "```json",
        json.dumps({"rows": rows, "break_even_steps": {"target_ratio": TARGET_RATIO, **break_even}, "song": song,
                    "long": long, "peak_rss_bench_mib": peak_bench}, indent=1),
        "```",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
