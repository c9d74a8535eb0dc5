"""Self-supervised speech embeddings (HuBERT, wav2vec 2.0) per segment on the recording clock."""
