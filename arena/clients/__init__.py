"""Model clients: traits and preparation (``base``), the provider registry, image fitting, scripted clients."""
