"""Paralinguistic audio: loading (any container to mono float), pitch and voice quality (Praat),
spectral and activity features. The cache adapter is ``pipeline.extractors.audio_extractor``."""
