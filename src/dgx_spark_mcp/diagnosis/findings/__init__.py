"""The shared finding model, the signature registry, fixes sized to the hardware, and the ranking of findings."""
