"""Tiny synthetic copies of each dataset's on-disk layout (names, containers, nesting, shapes).

Sizes are shrunk (few subjects, few trials, seconds instead of minutes) but every file name,
container type, variable name, struct nesting and axis order follows the adapters' layout notes
(pipeline/adapters/layouts.py), so the adapters and readers run exactly as on the real data.
"""

from __future__ import annotations

import csv
import datetime
import pickle
from pathlib import Path

import numpy as np
import soundfile

from pipeline.adapters import layouts as L

BIOSEMI_UV_PER_BIT = 1 / 32  # +-262144 uV over 24 bits, like a Biosemi BDF


def eeg_uv(rng: np.random.Generator, n_ch: int, n: int, sfreq: float) -> np.ndarray:
    t = np.arange(n) / sfreq
    return rng.normal(0, 8, (n_ch, n)) + 15 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6, (n_ch, 1)))


def ecg_uv(rng: np.random.Generator, n: int, sfreq: float, hr_bpm: float = 70.0) -> np.ndarray:
    """Spiky lead-like signal: R waves (1 mV) and T waves on a little noise, in microvolts."""
    t = np.arange(n) / sfreq
    x = 10 * rng.standard_normal(n)
    for r in np.arange(0.3, n / sfreq - 0.3, 60 / hr_bpm):
        x += 1000 * np.exp(-0.5 * ((t - r) / 0.012) ** 2) + 250 * np.exp(-0.5 * ((t - r - 0.25) / 0.04) ** 2)
    return x


def write_bdf(path: Path, names: list[str], data_uv: np.ndarray, sfreq: int, status: np.ndarray) -> Path:
    """A Biosemi-style 24-bit BDF (1 s records) with a 'Status' trigger channel, written by hand."""
    n = data_uv.shape[1]
    n_rec = -(-n // sfreq)
    pad = n_rec * sfreq - n
    digital = np.clip(np.rint(data_uv / BIOSEMI_UV_PER_BIT), -2 ** 23, 2 ** 23 - 1).astype(np.int64)
    chans = np.vstack([digital, status[None, :].astype(np.int64)])
    chans = np.pad(chans, ((0, 0), (0, pad)))
    labels = list(names) + ["Status"]
    ns = len(labels)

    def field(values: list[str], width: int) -> bytes:
        return b"".join(v.encode("ascii")[:width].ljust(width) for v in values)

    head = (b"\xffBIOSEMI" + field(["X"], 80) + field(["X"], 80) + field(["01.01.20"], 8) + field(["00.00.00"], 8)
            + field([str(256 * (ns + 1))], 8) + field(["24BIT"], 44) + field([str(n_rec)], 8) + field(["1"], 8)
            + field([str(ns)], 4))
    head += field(labels, 16) + field(["Active electrode"] * (ns - 1) + ["Triggers and Status"], 80)
    head += field(["uV"] * (ns - 1) + ["Boolean"], 8)
    head += field(["-262144"] * (ns - 1) + ["-8388608"], 8) + field(["262143"] * (ns - 1) + ["8388607"], 8)
    head += field(["-8388608"] * ns, 8) + field(["8388607"] * ns, 8) + field([""] * ns, 80)
    head += field([str(sfreq)] * ns, 8) + field([""] * ns, 32)
    body = chans.reshape(ns, n_rec, sfreq).transpose(1, 0, 2).reshape(-1)
    raw24 = (body & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + raw24.tobytes())
    return path


def write_video(path: Path, seconds: float, fps: int = 4, size: int = 32) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        for i in range(int(round(seconds * fps))):
            img = np.full((size, size, 3), (i * 10) % 255, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


# ----------------------------------------------------------------------------------------- DEAP
DEAP_SECONDS = 6.0   # stimulus seconds per trial (60 in DEAP); the 3 s baseline comes on top


def deap_presentation(trials: int) -> list[int]:
    """Experiment_id shown at presentation position t (a fixed permutation, as in DEAP)."""
    return [((t * 2) % trials) + 1 if trials % 2 else trials - t for t in range(trials)]


def write_deap_ratings(root: Path, subjects: tuple[int, ...], trials: int, rng: np.random.Generator) -> Path:
    path = root / "metadata_csv" / "participant_ratings.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Participant_id", "Trial", "Experiment_id", "Start_time", "Valence", "Arousal", "Dominance",
                    "Liking", "Familiarity"])
        for pid in subjects:
            for t, exp in enumerate(deap_presentation(trials), start=1):
                w.writerow([pid, t, exp, 1000 * t, *np.round(rng.uniform(1, 9, 4), 2), 3])
    return path


def write_deap_preprocessed(root: Path, subjects: tuple[int, ...] = (1, 2), trials: int = 2,
                            variant: str = "dat", seed: int = 0) -> dict[int, np.ndarray]:
    """data_preprocessed_python/sXX.dat (protocol-2 pickle of {'labels', 'data'}) or the .mat twin."""
    rng = np.random.default_rng(seed)
    n = int((L.DEAP_BASELINE_S + DEAP_SECONDS) * L.DEAP_SFREQ)
    out = {}
    folder = root / ("data_preprocessed_python" if variant == "dat" else "data_preprocessed_matlab")
    folder.mkdir(parents=True, exist_ok=True)
    for pid in subjects:
        data = np.concatenate([eeg_uv(rng, 32, n * trials, 128).reshape(32, trials, n).transpose(1, 0, 2),
                               rng.normal(0, 5, (trials, 8, n))], axis=1)
        labels = np.round(rng.uniform(1, 9, (trials, 4)), 2)
        content = {"labels": labels, "data": data}
        if variant == "dat":
            (folder / f"s{pid:02d}.dat").write_bytes(pickle.dumps(content, protocol=2))
        else:
            import scipy.io

            scipy.io.savemat(folder / f"s{pid:02d}.mat", content)
        out[pid] = data
    write_deap_ratings(root, subjects, trials, rng)
    return out


def write_deap_videos(root: Path, pid: int, trials: int, seconds: float = DEAP_SECONDS) -> list[Path]:
    return [write_video(root / "face_video" / f"s{pid:02d}" / f"s{pid:02d}_trial{t:02d}.avi", seconds)
            for t in range(1, trials + 1)]


def write_deap_raw(root: Path, subjects: tuple[int, ...] = (1,), trials: int = 2, sfreq: int = 256,
                   seed: int = 0) -> None:
    """data_original/sXX.bdf: 32 EEG + peripheral + Status with codes 3 (fixation), 4 (video), 5 (after)."""
    rng = np.random.default_rng(seed)
    names = list(L.DEAP_EEG_CHANNELS) + ["EXG1", "EXG2", "GSR1", "Resp", "Plet", "Temp"]
    for pid in subjects:
        n = int((4 + trials * (5 + DEAP_SECONDS + 3)) * sfreq)
        status = np.full(n, 1 << 20)  # high (non-trigger) bits set, as on Biosemi
        t = 2.0
        for _ in range(trials):
            for code, dur in ((3, 5.0), (4, DEAP_SECONDS), (5, 3.0)):
                i = int(t * sfreq)
                status[i:i + int(0.1 * sfreq)] |= code | (1 << 16)
                t += dur
        write_bdf(root / "data_original" / f"s{pid:02d}.bdf", names, eeg_uv(rng, len(names), n, sfreq), sfreq, status)
    write_deap_ratings(root, subjects, trials, rng)


# -------------------------------------------------------------------------------------- DREAMER
def _cell(items: list) -> np.ndarray:
    """A MATLAB cell column (n x 1 object array), as savemat writes cells."""
    out = np.empty((len(items), 1), dtype=object)
    for i, x in enumerate(items):
        out[i, 0] = x
    return out


def write_dreamer(root: Path, subjects: int = 2, films: int = 2, seconds: float = 6.0, seed: int = 0) -> Path:
    """DREAMER.mat: struct DREAMER with Data {1 x S} of subject structs (EEG/ECG baseline+stimuli cells)."""
    import scipy.io

    rng = np.random.default_rng(seed)
    data = np.empty((1, subjects), dtype=object)
    for s in range(subjects):
        def part(sfreq: float, n_ch: int, secs: float, ecg: bool) -> np.ndarray:
            n = int(secs * sfreq)
            sig = np.vstack([ecg_uv(rng, n, sfreq) for _ in range(n_ch)]) if ecg else eeg_uv(rng, n_ch, n, sfreq)
            return (sig + (0 if ecg else 4200)).T  # samples x channels; Emotiv values carry a DC offset
        data[0, s] = {
            "Age": str(22 + s), "Gender": "female" if s % 2 else "male",
            "EEG": {"baseline": _cell([part(128, 14, 4.0, False) for _ in range(films)]),
                    "stimuli": _cell([part(128, 14, seconds + f, False) for f in range(films)])},
            "ECG": {"baseline": _cell([part(256, 2, 4.0, True) for _ in range(films)]),
                    "stimuli": _cell([part(256, 2, seconds + f, True) for f in range(films)])},
            "ScoreValence": rng.integers(1, 6, (films, 1)).astype(float),
            "ScoreArousal": rng.integers(1, 6, (films, 1)).astype(float),
            "ScoreDominance": rng.integers(1, 6, (films, 1)).astype(float),
        }
    electrodes = np.empty((1, 14), dtype=object)
    electrodes[0, :] = list(L.DREAMER_EEG_CHANNELS)
    top = {"Data": data, "EEG_SamplingRate": 128.0, "ECG_SamplingRate": 256.0, "EEG_Electrodes": electrodes,
           "noOfSubjects": float(subjects), "noOfVideoSequences": float(films), "Provider": "synthetic"}
    path = root / "DREAMER.mat"
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"DREAMER": top})
    return path


# --------------------------------------------------------------------------------------- AMIGOS
AMIGOS_VIDEO_IDS = ("10", "13", "N1")


def write_amigos(root: Path, participants: tuple[int, ...] = (1, 2), seconds: float = 6.0, seed: int = 0,
                 empty_trial: tuple[int, int] | None = None) -> None:
    """Data_Preprocessed_Pxx.mat with joined_data / labels_selfassessment / VideoIDs as 1 x T cells."""
    import scipy.io

    rng = np.random.default_rng(seed)
    folder = root / "Data_Preprocessed"
    folder.mkdir(parents=True, exist_ok=True)
    t_count = len(AMIGOS_VIDEO_IDS)
    for pid in participants:
        joined, ratings = np.empty((1, t_count), dtype=object), np.empty((1, t_count), dtype=object)
        vids = np.empty((1, t_count), dtype=object)
        for t in range(t_count):
            n = int((seconds + t) * 128)
            sig = np.vstack([eeg_uv(rng, 14, n, 128), ecg_uv(rng, n, 128), ecg_uv(rng, n, 128),
                             rng.normal(0, 1, (1, n))])
            joined[0, t] = np.zeros((0, 0)) if empty_trial == (pid, t) else sig.T
            ratings[0, t] = np.concatenate([np.round(rng.uniform(1, 9, 5), 2), rng.integers(0, 2, 7)])[None, :]
            vids[0, t] = AMIGOS_VIDEO_IDS[t]
        scipy.io.savemat(folder / f"Data_Preprocessed_P{pid:02d}.mat",
                         {"joined_data": joined, "labels_selfassessment": ratings, "VideoIDs": vids})


# ----------------------------------------------------------------------------------- MAHNOB-HCI
MAHNOB_SECONDS = 6.0


def write_mahnob_session(root: Path, session: int, subject: int, trial: int, sfreq: int = 256, seed: int = 0,
                         video_seconds: float | None = None, felt: bool = True, neutral: bool = False,
                         cut_len_s: float | None = MAHNOB_SECONDS, listed_video: str | None = None) -> Path:
    """Sessions/<n>/session.xml + Part_<s>_{S|N}_Trial<k>_emotion.bdf with a Status span of
    MAHNOB_SECONDS after a 2 s lead-in and before a 2 s tail (30 s each in MAHNOB-HCI), and the
    'C1 trigger' face video and audio covering the Status span (bob.db.hci_tagging's timeline).

    ``listed_video``: the video file name session.xml lists, when it differs from the file on disk.
    """
    rng = np.random.default_rng(seed + session)
    folder = root / "Sessions" / str(session)
    folder.mkdir(parents=True, exist_ok=True)
    pre = 2.0
    n = int((2 * pre + MAHNOB_SECONDS) * sfreq)
    names = list(L.MAHNOB_EEG_CHANNELS) + ["EXG1", "EXG2", "EXG3", "GSR1", "Resp", "Temp"]
    data = np.vstack([eeg_uv(rng, 32, n, sfreq), ecg_uv(rng, n, sfreq), ecg_uv(rng, n, sfreq), ecg_uv(rng, n, sfreq),
                      rng.normal(0, 5, (3, n))])
    status = np.full(n, 1 << 20)
    status[int(pre * sfreq):int((pre + MAHNOB_SECONDS) * sfreq)] |= 1  # camera/stimulus span marked on Status
    bdf = f"Part_{subject}_{'N' if neutral else 'S'}_Trial{trial}_emotion.bdf"
    write_bdf(folder / bdf, names, data, sfreq, status)
    video = f"P{subject}-Rec1-2009.07.09.17.53.46_C1 trigger _C_Section_{session}.avi"
    write_video(folder / video, video_seconds if video_seconds is not None else MAHNOB_SECONDS)
    audio = f"P{subject}-Rec1-2009.07.09.17.53.46_Audio_Section_{session}.wav"
    sr = 8000
    tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(int(MAHNOB_SECONDS * sr)) / sr)
    soundfile.write(folder / audio, tone, sr)
    felt_attrs = 'feltEmo="1" feltArsl="7" feltVlnc="3" feltCtrl="5" feltPred="4" ' if felt and not neutral else ""
    cut = f'cutLenSec="{cut_len_s}" ' if cut_len_s is not None else ""
    (folder / "session.xml").write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n<session cutNum="{trial}" sessionId="{session}" '
        f'mediaFile="{50 + trial}.avi" {cut}isStim="{0 if neutral else 1}" {felt_attrs}>\n'
        f'  <subject id="{subject}" />\n'
        f'  <track type="Video" id="1" filename="{listed_video or video}" />\n'
        f'  <track type="Physiological" id="2" filename="{bdf}" />\n'
        f'  <track type="Audio" id="3" filename="{audio}" />\n</session>\n')
    return folder


# ----------------------------------------------------------------------------------------- BIDS
def write_bids(root: Path, subjects: tuple[str, ...] = ("01", "02"), seconds: float = 20.0, seed: int = 0,
               line_freq: float = 50, bads: tuple[str, ...] = (), hum_uv: float = 0.0) -> Path:
    """An EEG-BIDS folder written by mne-bids (EDF): 14 EEG + 1 ECG channel, two 6 s 'film' events.

    ``line_freq`` goes to the sidecar's PowerLineFrequency, ``bads`` to channels.tsv status 'bad',
    ``hum_uv`` adds mains hum of that amplitude at ``line_freq`` to the EEG.
    """
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    rng = np.random.default_rng(seed)
    sfreq = 128.0
    n = int(seconds * sfreq)
    names = list(L.DREAMER_EEG_CHANNELS) + ["ECG"]
    hum = hum_uv * np.sin(2 * np.pi * line_freq * np.arange(n) / sfreq)
    for i, sub in enumerate(subjects):
        data = np.vstack([eeg_uv(rng, 14, n, sfreq) + hum, ecg_uv(rng, n, sfreq)]) * 1e-6
        raw = mne.io.RawArray(data, mne.create_info(names, sfreq, ["eeg"] * 14 + ["ecg"]), verbose="ERROR")
        raw.set_meas_date(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
        raw.info["line_freq"] = line_freq
        raw.info["bads"] = list(bads)
        raw.info["subject_info"] = {"his_id": sub, "sex": 2 if i % 2 else 1, "birthday": datetime.date(1990, 1, 1)}
        raw.set_annotations(mne.Annotations([2.0, 11.0, 18.0], [6.0, 6.0, 0.0], ["film", "film", "click"]))
        bp = BIDSPath(subject=sub, task="films", run="1", datatype="eeg", root=root)
        write_raw_bids(raw, bp, format="EDF", allow_preload=True, overwrite=True, verbose=False)
    return root
