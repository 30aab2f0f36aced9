# syntax=docker/dockerfile:1.7
# Two images from one file:
#   docker build --target edge   -t frontage-edge .    # lean edge box: PyAV + ONNX Runtime, no torch, no server deps
#   docker build --target server -t frontage-server .  # the case service (FastAPI, SQLAlchemy, Alembic, web pages)
# Training (torch + ultralytics) is the `train` extra and belongs to neither image.

FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    YOLO_OFFLINE=1 YOLO_AUTOINSTALL=False
WORKDIR /app
RUN useradd --system --uid 10001 --home /app frontage
COPY pyproject.toml README.md ./
COPY detector ./detector
COPY api ./api

FROM base AS edge
# Core dependencies only: decode (PyAV), inference (onnxruntime, and openvino: backend auto times both on the
# box and keeps the faster, e.g. OpenVINO bf16 on CPUs with AVX512-BF16/AMX), rules, outbox, metrics.
RUN pip install --no-deps . && pip install \
      "numpy<3" opencv-python-headless av onnxruntime openvino pydantic pydantic-settings pyyaml typer rich \
      httpx prometheus-client shapely supervision trackers
COPY models ./models
RUN mkdir -p /var/lib/frontage && chown frontage /var/lib/frontage
USER frontage
ENV FRONTAGE_DATA_DIR=/var/lib/frontage
VOLUME ["/var/lib/frontage"]
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/metrics', timeout=3)"
ENTRYPOINT ["frontage"]
CMD ["edge", "--config", "/etc/frontage/edge.yaml"]

FROM base AS server
# No FRONTAGE_SECRET_KEY here or anywhere in the image: `frontage serve` refuses to start without one, so every
# deployment brings its own (deploy/compose.yaml requires it from deploy/.env).
# fonts-noto-cjk: zh-CN report PDFs and charts (nothing is downloaded at run time; without it zh-CN PDFs are a 409).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk && rm -rf /var/lib/apt/lists/*
RUN pip install ".[server]"
RUN mkdir -p /var/lib/frontage && chown frontage /var/lib/frontage
USER frontage
ENV FRONTAGE_EVIDENCE_DIR=/var/lib/frontage/evidence
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"
ENTRYPOINT ["frontage"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
