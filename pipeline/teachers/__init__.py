"""Teacher models that run on cached features (derived cache groups), e.g. VATE's contrastive heads."""
