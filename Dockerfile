# effnets app image: one Streamlit server. Build: docker build -t effnets .   Run: docker run -p 8501:8501 effnets
# CPU build by default; for NVIDIA GPUs build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu130
# and run with --gpus all.
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    STREAMLIT_SERVER_HEADLESS=true STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

WORKDIR /app
RUN useradd --create-home --uid 10001 effnets

COPY requirements.txt .
RUN pip install --index-url "$TORCH_INDEX" "torch==2.14.1" "torchvision==0.29.1" \
 && pip install -r requirements.txt

COPY --chown=effnets:effnets app.py serve.py ./
COPY --chown=effnets:effnets pages ./pages
COPY --chown=effnets:effnets effnets ./effnets
COPY --chown=effnets:effnets assets ./assets
COPY --chown=effnets:effnets .streamlit ./.streamlit

USER effnets
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["python", "-m", "streamlit", "run", "serve.py", "--server.port=8501", "--server.address=0.0.0.0"]
