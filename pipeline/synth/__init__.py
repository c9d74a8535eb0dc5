"""The bundled demo dataset: deterministic EEG, ECG, face video and speech with planted labels.
``pipeline.synth.demo.generate_demo`` writes it; the other modules render one modality each."""
