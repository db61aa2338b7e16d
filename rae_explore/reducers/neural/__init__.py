"""Torch reducers: one training loop for all (:mod:`.training`) and the small autoencoders (:mod:`.autoencoders`)."""
