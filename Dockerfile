# CNN Lab as a hosted demo: `docker build -t cnn-lab .` then
# `docker run -p 8501:8501 -v cnn-lab-data:/data cnn-lab` (README.md, "Deploy").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# PyTorch's CPU-only build: the default PyPI wheel brings the CUDA libraries (several GB).
COPY deploy/requirements-cpu.txt deploy/requirements-cpu.txt
# The build fails rather than ship the CUDA build when the CPU index could not be reached (pip
# then falls back to PyPI's torch, which depends on the nvidia-* wheels).
RUN pip install -r deploy/requirements-cpu.txt \
    && python -c "import sys, torch; sys.exit('torch is a CUDA build: the CPU index was not used' if torch.version.cuda else 0)"

# A non-root user (uid 1000, as Hugging Face Spaces expects) owns only the data folders;
# the code stays root-owned and read-only for it.
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin cnnlab \
    && mkdir -p /data/runs /data/datasets \
    && chown -R cnnlab:cnnlab /data

COPY .streamlit/ .streamlit/
COPY app.py ./
COPY app_pages/ app_pages/
COPY cnn_core/ cnn_core/

# A public container is a demo (tighter limits); `-e CNN_LAB_DEMO=0` turns it off.
# The port comes from STREAMLIT_SERVER_PORT (Hugging Face Spaces: 7860, see README.md).
ENV CNN_LAB_RUNS_DIR=/data/runs \
    CNN_LAB_DATA_DIR=/data/datasets \
    CNN_LAB_DEMO=1 \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

USER cnnlab
VOLUME ["/data"]
EXPOSE 8501

# slim has no curl: Python's urllib asks Streamlit's health endpoint on the configured port.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('STREAMLIT_SERVER_PORT', '8501'); body = urllib.request.urlopen('http://127.0.0.1:%s/_stcore/health' % port, timeout=5).read(); sys.exit(0 if body.strip() == b'ok' else 1)"]

CMD ["python", "-m", "cnn_core.serve"]
