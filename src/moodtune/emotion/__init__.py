"""Expression classification (ONNX Runtime) and its valence/arousal projection."""
