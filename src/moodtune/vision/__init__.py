"""Images in, face boxes out: decoding, detectors, crops for the classifier."""
