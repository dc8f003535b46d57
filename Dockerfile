# One image for every segmad service: `docker run IMAGE serve ingestion --host 0.0.0.0`, `… serve labelling`, …
# Build: docker build -t segmad:latest .
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/segmad
ENV PATH=/opt/segmad/bin:$PATH

# torch first, from the PyTorch CPU index: PyPI's Linux x86_64 torch wheel depends on the CUDA
# libraries (several GB) that these CPU services never use. `torch==2.13.0` matches the index's
# `2.13.0+cpu` build, which satisfies the [train] extra's torch range when `pip install .[…]` runs.
# For GPU inference and fine-tuning build with a CUDA index, e.g.
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 -t segmad:gpu .
# and give the container the GPU (compose: docker-compose.gpu.yml; Kubernetes: deploy/README.md).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
RUN pip install --index-url ${TORCH_INDEX} torch==${TORCH_VERSION}

WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY proto ./proto
# every extra the services use (the [ui-tests] and [test] extras stay out of the image); [models] runs
# the cards of models segmad did not build (ONNX Runtime, YAML cards, Hugging Face models)
RUN pip install '.[train,services,stack,models,fast]' && rm -rf /src

FROM python:3.11-slim

# A fixed non-root uid, so Kubernetes' runAsNonRoot can check it from the image.
RUN useradd --uid 10001 --create-home --home-dir /home/segmad segmad \
    && mkdir -p /var/lib/segmad && chown segmad:segmad /var/lib/segmad
COPY --from=build /opt/segmad /opt/segmad
# The generic TorchServe handler and its config: `segmad models publish` archives the handler into every
# .mar (the installed package has no checkout around it, so SEGMAD_TORCHSERVE_DIR says where it is).
COPY deploy/torchserve /opt/segmad/deploy/torchserve
ENV PATH=/opt/segmad/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SEGMAD_DATA_DIR=/var/lib/segmad \
    SEGMAD_TORCHSERVE_DIR=/opt/segmad/deploy/torchserve \
    MPLCONFIGDIR=/tmp/matplotlib

USER 10001
WORKDIR /var/lib/segmad
EXPOSE 8000 8001
ENTRYPOINT ["segmad"]
CMD ["--help"]
