"""Model providers, one module each: ``openai_chat`` (OpenAI and any OpenAI-compatible server),
``anthropic_messages`` (Anthropic). Each defines a ``Provider`` registered in the composition root."""
