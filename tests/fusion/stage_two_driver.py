"""Run `cli train fusion` and `cli eval` in this process, then print (as JSON) every stage-one
module that ended up imported. Used by test_stage_two_imports.py in a fresh interpreter."""

from __future__ import annotations

import json
import sys

FORBIDDEN = ("pipeline.extractors", "pipeline.video", "pipeline.audio", "pipeline.speech", "transformers",
             "parselmouth", "av", "neurokit2")


def main(argv: list[str]) -> None:
    from cli import main as cli_main

    manifest, run = argv
    for args in (["train", "fusion", "--manifest", manifest, "--out", run, "--modalities", "eeg,video,audio,ecg",
                  "--max-steps", "2", "--max-folds", "1", "--window-s", "2", "--hop-s", "1", "--device", "cpu",
                  "--set", "d_model=16", "--set", "n_heads=2", "--set", "eeg_layers=1", "--set", "fusion_layers=1"],
                 ["eval", run, "--device", "cpu"]):
        try:
            cli_main(args)
        except SystemExit as e:
            if e.code:
                raise
    loaded = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    print("OFFENDING=" + json.dumps(loaded))


if __name__ == "__main__":
    main(sys.argv[1:])
