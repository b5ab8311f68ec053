"""GAN experiments for studylog. TensorFlow is imported only by train/models/run, lazily."""
import contextlib
import os
import sys
import tempfile

# Quiet TensorFlow's C++ chatter (oneDNN notices, harmless grappler "remapper failed") unless
# the user asked otherwise; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def native_stderr_held():
    """Hold what native code writes to fd 2 inside the block; replay it only if the block fails.

    TensorFlow >= 2.17 prints absl notices ("All log messages before absl::InitializeLog()...",
    oneDNN) straight to fd 2 while it is imported, whatever TF_CPP_MIN_LOG_LEVEL says
    (tensorflow/tensorflow#100442); they would bury the build's progress bars.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):   # stderr replaced (pytest capture, IDEs)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), fd)
        try:
            yield
        except BaseException:
            os.dup2(saved, fd)
            held.seek(0)
            os.write(fd, held.read())
            raise
        finally:
            os.dup2(saved, fd)
            os.close(saved)
