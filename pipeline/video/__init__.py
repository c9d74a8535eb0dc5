"""The video stage: PyAV decoding, frozen transformers encoders, training-free token compaction.

Modules, one job each: ``video_config`` (VideoConfig, the encoder table), ``segments`` (segments and
frame sampling on the recording clock), ``decode`` (PyAV), ``preprocess`` (the encoder's
resize/crop/normalise recipe), ``weights`` (offline weights and their identity), ``encoders``
(build/load/run the models), ``batcher`` (concurrent recordings' batches share forward passes),
``compact`` (token layouts and compaction), ``prefetch`` (decode ahead in a thread), ``faces``
(the face detector), ``face_track`` (smoothing, fallbacks and crop boxes), ``face_crop``
(``--face-crop``: the detection pass and the cropping converter), ``extract`` (one recording end
to end). The registered extractors live in ``pipeline.extractors.video_extractor``.
Nothing here imports transformers at import time.
"""

from pipeline.video.video_config import ENCODERS, VideoConfig, encoder_spec

__all__ = ["ENCODERS", "VideoConfig", "encoder_spec"]
