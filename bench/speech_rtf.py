"""HuBERT-base real-time factor on CPU, next to the paralinguistic "audio" extractor's on the same audio.

Usage:
    python -m bench.speech_rtf [--seconds 20] [--threads 1]

Synthesises ``--seconds`` of speech-like audio (``pipeline.synth.speech``), writes it as a 16-bit
WAV, and times the whole "hubert" extractor (decode + resample + encoder + pooling, 2 s segments)
with a randomly initialised base-size HuBERT (the architecture of facebook/hubert-base-ls960 and
torchaudio's HUBERT_BASE: 12 layers, width 768; no weights are downloaded, and random weights cost
what trained ones cost), then the "audio" extractor on the same file. Prints seconds of compute per
second of audio for each and their ratio, measured in the same run. The model load is excluded
(a first call warms it up). Torch and BLAS use ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path



def _timed(extractor, recording, stream) -> float:
    t0 = time.perf_counter()
    extractor.extract(recording, stream)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="Audio length to time (s).")
    parser.add_argument("--threads", type=int, default=1, help="Torch intra-op threads.")
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from pipeline.extractors import get_extractor
    from pipeline.manifest import Recording, Stream
    from pipeline.speech.speech_config import SpeechConfig
    from pipeline.synth.speech import plan_speech, render_speech, write_wav

    rng = np.random.default_rng(0)
    y = render_speech(rng, plan_speech(rng, 120.0, args.seconds), 1.0, 0.0, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        write_wav(path, y)
        stream = Stream(name="voice", kind="audio", path=path, format="wav", offset_s=0.0)
        recording = Recording(id="bench", dataset="bench", subject="s", streams={"voice": stream})
        hubert = get_extractor("hubert")(SpeechConfig(random_init=True, size="base", device="cpu"))
        short = Stream(name="voice", kind="audio", path=path, format="wav", offset_s=0.0, options={"crop_s": [0, 2]})
        hubert.extract(recording, short)                                    # load the model once
        t_hubert = _timed(hubert, recording, stream)
        t_audio = _timed(get_extractor("audio")(), recording, stream)
    rtf_h, rtf_a = t_hubert / args.seconds, t_audio / args.seconds
    print(f"audio: {args.seconds:.0f} s of speech-like audio, CPU, {args.threads} thread(s), torch {torch.__version__}")
    print(f"hubert (base, random init, 2 s segments): {t_hubert:.2f} s -> {rtf_h:.3f} s compute per s of audio")
    print(f"audio (paralinguistic frame features):    {t_audio:.2f} s -> {rtf_a:.3f} s compute per s of audio")
    print(f"ratio hubert / audio: {rtf_h / rtf_a:.1f}x")


if __name__ == "__main__":
    main()
