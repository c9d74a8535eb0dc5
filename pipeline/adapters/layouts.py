"""Layout facts of the public datasets: each states its status and its source.

Status is one of
  confirmed  - a named public implementation written by others reads the data this way
               (repository and file given), or the dataset's format specification says so;
  unconfirmed - from the dataset's documentation as the authors of this module remember it,
               not yet compared with a reference or a real download.
The adapters fail loudly, naming the file, when a file does not have the expected shape, so an
unconfirmed fact that is wrong shows up as a reported problem, not as silently wrong data.
The datasets page of the documentation carries the same table for users.
"""

from __future__ import annotations

# References cited below (public repositories):
BOB_HCI = "bioidiap/bob.db.hci_tagging"          # MAHNOB-HCI interface: bob/db/hci_tagging/{utils,create,models}.py
TORCHEEG = "torcheeg/torcheeg"                   # torcheeg/datasets/module/emotion_recognition/*.py
ARDT_DREAMER = "ardt (DREAMER loader)"            # as described in project issue 14; source not stored here

# ----------------------------------------------------------------------------------------- DEAP
# data_preprocessed_python/sXX.dat: a pickle of {'data': 40 trials x 40 channels x 8064 samples,
#   'labels': 40 x 4 (valence, arousal, dominance, liking)}; 128 Hz.
#   Status: confirmed by TORCHEEG deap.py (pkl.load(..., encoding='iso-8859-1'); data[trial, :32];
#   labels in that order).
# The first 3 s of each trial are the pre-trial baseline.
#   Status: confirmed by TORCHEEG deap.py (num_baseline=3 x baseline_chunk_size=128, signal from 3*128).
DEAP_SFREQ = 128.0
DEAP_BASELINE_S = 3.0
DEAP_LABELS = ("valence", "arousal", "dominance", "liking")
# data_original/sXX.bdf are 512 Hz Biosemi files. Status: unconfirmed (DEAP README).
DEAP_RAW_SFREQ = 512.0
# EEG channel order of the preprocessed files ("Geneva order"). Status: unconfirmed (DEAP README
# channel table); TORCHEEG only confirms that the first 32 channels are EEG.
DEAP_EEG_CHANNELS = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
)
# Channels 33-40 of the preprocessed files; none is ECG. Status: unconfirmed (DEAP README).
DEAP_PERIPHERAL = (("hEOG", "eog"), ("vEOG", "eog"), ("zEMG", "emg"), ("tEMG", "emg"), ("GSR", "misc"),
                   ("Respiration", "misc"), ("Plethysmograph", "misc"), ("Temperature", "misc"))
# Status codes in the raw BDFs: 4 = music video starts (60 s), 5 = fixation after it.
#   Status: unconfirmed (DEAP README, status channel table).
DEAP_STATUS_VIDEO_START = 4
DEAP_STATUS_VIDEO_END = 5
# Face video exists for participants 1-22 only. Status: unconfirmed (DEAP website).
DEAP_FACE_VIDEO_SUBJECTS = range(1, 23)
# metadata_csv/participant_ratings.csv columns; trials in the .dat files are in Experiment_id order,
# not presentation order. Status: unconfirmed (DEAP README, metadata section).
DEAP_RATING_COLUMNS = ("Participant_id", "Trial", "Experiment_id", "Valence", "Arousal", "Dominance", "Liking")

# -------------------------------------------------------------------------------------- DREAMER
# DREAMER.mat: struct DREAMER with Data{1 x 23} of subject structs; each has EEG/ECG with
#   baseline{18 x 1} and stimuli{18 x 1} cells (samples x channels) and ScoreValence,
#   ScoreArousal, ScoreDominance (18 x 1).
#   Status: confirmed by TORCHEEG dreamer.py (mat['DREAMER'][0,0]['Data'][0,s]['EEG'][0,0]['stimuli'][0,0][t,0],
#   [:, :14] then swapaxes; ['ScoreValence'][0,0][t,0]).
# EEG: 14 channels at 128 Hz; ECG: 2 channels at 256 Hz. Status: confirmed by TORCHEEG dreamer.py (docstring).
DREAMER_EEG_SFREQ = 128.0
DREAMER_ECG_SFREQ = 256.0
# Electrode order (EEG_Electrodes). Status: unconfirmed (Katsigiannis & Ramzan 2018, Emotiv EPOC order).
DREAMER_EEG_CHANNELS = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
# The file gives no ECG lead names; these are ours. Status: unconfirmed.
DREAMER_ECG_CHANNELS = ("ECG1", "ECG2")
DREAMER_SCORES = (("valence", "ScoreValence"), ("arousal", "ScoreArousal"), ("dominance", "ScoreDominance"))
DREAMER_PARTS = ("stimuli", "baseline")
# Ratings are 1-5. Status: confirmed by TORCHEEG dreamer.py ("all on a scale from 1 to 5").
# Low/high split at 3. Both rules are in use: TORCHEEG's documented example Binary(3.0) computes
# int(label >= 3) and ARDT_DREAMER also labels 3 high; this project's default is 3 = low (see
# pipeline.manifest.LabelScale), selectable with threshold_inclusive.
DREAMER_THRESHOLD = 3.0

# --------------------------------------------------------------------------------------- AMIGOS
# Data_Preprocessed_Pxx.mat: joined_data{1 x 20} (samples x 17: 14 EEG, ECG right, ECG left, GSR;
#   128 Hz), labels_selfassessment{1 x 20} (1 x 12: arousal, valence, dominance, liking,
#   familiarity, then 7 basic emotions), VideoIDs{1 x 20}.
#   Status: cell nesting and "14 EEG of 17" confirmed by open-source loaders of TORCHEEG's
#   amigos.py lineage (joined_data[0][trial], labels_selfassessment[0][trial] (1, 12)); column
#   names after the EEG and the label order: unconfirmed (AMIGOS website).
AMIGOS_SFREQ = 128.0
AMIGOS_EEG_CHANNELS = DREAMER_EEG_CHANNELS   # Emotiv EPOC 14-channel order. Status: unconfirmed.
AMIGOS_OTHER_CHANNELS = (("ECG_Right", "ecg"), ("ECG_Left", "ecg"), ("GSR", "misc"))
AMIGOS_LABELS = ("arousal", "valence", "dominance", "liking", "familiarity")
# Participants without the long-video sessions. Status: unconfirmed (AMIGOS website; an
# open-source loader also skips 32). The adapter detects empty trials from the data itself.
AMIGOS_KNOWN_INCOMPLETE = (8, 24, 28)

# ---------------------------------------------------------------------------------- MAHNOB-HCI
# Session folders hold one BDF and the camera files; the frontal colour camera file matches
# "*C1 trigger*.avi". Status: confirmed by BOB_HCI create.py (fnmatch '*.bdf', '*C1 trigger*.avi').
MAHNOB_FACE_CAMERA = "C1 trigger"
MAHNOB_FACE_VIDEO_GLOB = "*C1 trigger*.avi"
# BDF names: Part_<s>_S_Trial<k>_emotion (stimulus), Part_<s>_N_Trial<k>_emotion (neutral clip,
# 527 sessions, ~20 s videos, recorded in the session (camera section 2k-1) just before stimulus k
# (section 2k)), Part_<s>_Trial<k>_tagging* (implicit-tagging experiment).
#   Status: confirmed by BOB_HCI metadata.csv (basedir, bdf, video, duration rows).
# Video time 0 = first non-zero Status sample of the BDF; the video covers the non-zero span.
#   Status: confirmed by BOB_HCI utils.py bdf_load_signal ("the status information, so we [know]
#   how the video is synchronized": reads from nz_status[0] to nz_status[-1]).
# Whether the Status span is exactly the stimulus (cutLenSec in session.xml). Status: unconfirmed;
#   the adapter compares them and reports disagreements.
# Audio files start with the video (same recording section). Status: unconfirmed.
MAHNOB_SYNC_TOLERANCE_S = 1.0   # ours: larger video/span or cutLenSec/span disagreements are reported
# 32 EEG channels with 10-20 names (same set as DEAP). Status: confirmed by BOB_HCI utils.py
# (channel list in bdf_load_signal's docstring); their order in the file: irrelevant (picked by name).
MAHNOB_EEG_CHANNELS = DEAP_EEG_CHANNELS
# ECG leads: EXG1 upper right chest, EXG2 upper left chest, EXG3 left abdomen ("very clean"),
# EXG3 is the reference's default lead. Status: confirmed by BOB_HCI utils.py
# (bdf_load_signal(name='EXG3') and its docstring). First listed = the lead single-lead extraction uses.
MAHNOB_ECG_CHANNELS = ("EXG3", "EXG1", "EXG2")
# session.xml attributes feltVlnc / feltArsl / feltCtrl (1-9), mediaFile, cutLenSec, child
# <subject id=...> and <track type=... filename=...>. Status: unconfirmed (MAHNOB-HCI manual;
# TORCHEEG mahnob.py parses the same file).
MAHNOB_LABELS = (("valence", "feltVlnc"), ("arousal", "feltArsl"), ("dominance", "feltCtrl"))

# ----------------------------------------------------------------------------------------- BIDS
# channels.tsv 'status' (good/bad) and the sidecar's PowerLineFrequency are read by
# mne_bids.read_raw_bids. Status: confirmed by the BIDS specification (EEG section) and mne-bids.

# Biosemi Status words: trigger codes are the low 16 bits. Status: unconfirmed here (Biosemi BDF
# format documentation as remembered).
STATUS_TRIGGER_MASK = 0xFFFF
