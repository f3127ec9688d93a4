"""What the domains share and own none of: media decoding, perceptual hashes, text and image
embeddings, speech-to-text, fuzzy text matching, a rebuild-on-change cache, file hashes."""
