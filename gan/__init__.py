"""GAN experiments for studylog. TensorFlow is imported only by train/models/run, lazily."""
import os

# Quiet TensorFlow's C++ chatter (oneDNN notices, harmless grappler "remapper failed") unless
# the user asked otherwise; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
