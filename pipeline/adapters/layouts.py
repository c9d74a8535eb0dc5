"""Layout facts of the public datasets, each with where it comes from.

These were first written from the datasets' documentation and open-source loaders as remembered,
then the ones marked "checked:" were compared with public loaders through the project's code search
(TorchEEG's dataset readers and other open-source loaders, named below). Facts still marked
"(memory)" should be checked against the real download; the adapters fail loudly, naming the file,
when a file does not have the expected shape.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------------------- DEAP
# DEAP README (data_preprocessed_python section; memory): sXX.dat is a cPickle'd dict with
# 'data' 40 trials x 40 channels x 8064 samples (63 s at 128 Hz) and 'labels' 40 x 4
# (valence, arousal, dominance, liking, on 1-9). Trials are in video (Experiment_id) order, not
# presentation order. The first 3 s of each trial are the pre-trial baseline (TorchEEG
# DEAPDataset: num_baseline=3, baseline_chunk_size=128).
# checked: torcheeg DEAPDataset(root_path='./data_preprocessed_python') and loaders that slice
# baseline = data[:, :, :128 * 3] from the 40 x 40 x 8064 arrays; 32 EEG + 8 peripheral channels.
DEAP_SFREQ = 128.0
DEAP_RAW_SFREQ = 512.0          # DEAP README, data_original section: BDF at 512 Hz (memory)
DEAP_BASELINE_S = 3.0
DEAP_LABELS = ("valence", "arousal", "dominance", "liking")
# DEAP README, channel table "Geneva order" used by the preprocessed files (memory).
DEAP_EEG_CHANNELS = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
)
# Channels 33-40 of the preprocessed files (DEAP README; memory): no ECG among them.
DEAP_PERIPHERAL = (("hEOG", "eog"), ("vEOG", "eog"), ("zEMG", "emg"), ("tEMG", "emg"), ("GSR", "misc"),
                   ("Respiration", "misc"), ("Plethysmograph", "misc"), ("Temperature", "misc"))
# DEAP README, status channel table (memory): 4 = start of music video playback (60 s),
# 5 = fixation screen after the music video.
DEAP_STATUS_VIDEO_START = 4
DEAP_STATUS_VIDEO_END = 5
DEAP_FACE_VIDEO_SUBJECTS = range(1, 23)   # DEAP website: face video for participants 1-22
# participant_ratings.csv columns (DEAP README, metadata section; memory).
DEAP_RATING_COLUMNS = ("Participant_id", "Trial", "Experiment_id", "Valence", "Arousal", "Dominance", "Liking")

# -------------------------------------------------------------------------------------- DREAMER
# DREAMER.mat (Katsigiannis & Ramzan 2018; TorchEEG DREAMERDataset reader; memory): struct DREAMER
# with Data{1x23} of structs {Age, Gender, EEG{baseline{18x1}, stimuli{18x1}}, ECG{...},
# ScoreValence/ScoreArousal/ScoreDominance (18x1, 1-5)}; EEG_SamplingRate 128, ECG_SamplingRate 256,
# EEG_Electrodes {1x14}. Each EEG cell is samples x 14 (Emotiv EPOC, µV with DC offset),
# each ECG cell samples x 2.
# checked: loaders read loadmat(...)['DREAMER'][0,0]['Data'][0, s]['EEG'][0,0]['stimuli'][0,0][video,0]
# and ['ScoreValence'][0,0][video,0]; keys EEG_SamplingRate, ECG_SamplingRate, EEG_Electrodes,
# noOfSubjects, noOfVideoSequences; electrodes AF3 F7 F3 FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4.
DREAMER_EEG_SFREQ = 128.0
DREAMER_ECG_SFREQ = 256.0
DREAMER_EEG_CHANNELS = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
DREAMER_ECG_CHANNELS = ("ECG1", "ECG2")   # the file gives no lead names (memory)
DREAMER_SCORES = (("valence", "ScoreValence"), ("arousal", "ScoreArousal"), ("dominance", "ScoreDominance"))
DREAMER_PARTS = ("stimuli", "baseline")

# --------------------------------------------------------------------------------------- AMIGOS
# AMIGOS website, "preprocessed data" description and TorchEEG AMIGOSDataset (memory):
# Data_Preprocessed_Pxx.mat with joined_data {1x20} (samples x 17: 14 EEG, ECG right, ECG left,
# GSR; 128 Hz), labels_selfassessment {1x20} (1 x 12: arousal, valence, dominance, liking,
# familiarity, then 7 basic emotions) and VideoIDs {1x20}.
# checked: open-source AMIGOS loaders list columns AF3 ... AF4, "ECG Right", "ECG Left", "GSR" at
# 128 Hz and labels in the order arousal, valence, dominance, liking.
AMIGOS_SFREQ = 128.0
AMIGOS_EEG_CHANNELS = DREAMER_EEG_CHANNELS   # both use the Emotiv EPOC 14-channel order
AMIGOS_OTHER_CHANNELS = (("ECG_Right", "ecg"), ("ECG_Left", "ecg"), ("GSR", "misc"))
AMIGOS_LABELS = ("arousal", "valence", "dominance", "liking", "familiarity")
# AMIGOS website / TorchEEG notes: some participants miss trials (long-video sessions not done or
# signals lost). Memory only; the adapter detects empty trials from the data itself.
AMIGOS_KNOWN_INCOMPLETE = (8, 24, 28)

# ---------------------------------------------------------------------------------- MAHNOB-HCI
# MAHNOB-HCI manual (memory): Sessions/<n>/session.xml with attributes feltEmo, feltArsl, feltVlnc,
# feltCtrl, feltPred (1-9), mediaFile; child <subject id=...>; <track type="Physiological"
# filename="Part_<s>_S_Trial<k>_emotion.bdf">, type="Video" (6 cameras, "C1 trigger" = frontal
# colour) and type="Audio". BDF: 32 EEG (Biosemi 10-20 names), EXG1-3 = ECG, Status; 256 Hz; the
# file starts ~30 s before the stimulus and ends ~30 s after it, the stimulus span is marked on Status.
# checked: loaders (e.g. sucv/phd2 configs) use "Sessions" / "session.xml" / "Part_{}.+Trial{}.+bdf"
# (Part_1_S_Trial1_emotion.bdf), TorchEEG's MAHNOBDataset parses session.xml with xmltodict, and
# face-video loaders pick the 'C1' camera. Attribute names and the 30 s margins remain (memory).
MAHNOB_LABELS = (("valence", "feltVlnc"), ("arousal", "feltArsl"), ("dominance", "feltCtrl"))
MAHNOB_EEG_CHANNELS = DEAP_EEG_CHANNELS      # Biosemi 32-channel 10-20 set, same names
MAHNOB_ECG_CHANNELS = ("EXG1", "EXG2", "EXG3")
MAHNOB_FACE_CAMERA = "C1 trigger"

# Biosemi status words: triggers are the low 16 bits (Biosemi BDF format documentation).
STATUS_TRIGGER_MASK = 0xFFFF
