"""ECG: R-peak detection (Pan-Tompkins with refinement) and heartbeat-centred windows.
The cache adapter is ``pipeline.extractors.ecg_extractor``."""
