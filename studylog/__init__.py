"""studylog: a static-site generator for a study log (never imports TensorFlow)."""
