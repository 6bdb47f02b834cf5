# pubnet in a container: the docker-compose stack's `pubnet` service, its `rules` job and,
# under the `demo` profile, the fleet simulator. Secrets are never baked in: they arrive at
# run time as Docker secrets (/run/secrets/...) that pubnet.yaml names as file:/path.
FROM python:3.11-slim

# No compiler needed: every dependency ships a manylinux wheel for CPython 3.11.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN groupadd --system --gid 10001 pubnet \
 && useradd --system --uid 10001 --gid pubnet --home-dir /var/lib/pubnet --shell /usr/sbin/nologin pubnet \
 && install -d -o pubnet -g pubnet -m 0750 /var/lib/pubnet \
 && install -d -o pubnet -g pubnet -m 0755 /rules

WORKDIR /opt/pubnet
# Dependencies first (their layer survives source edits), then the source.
COPY pyproject.toml README.md ./
COPY pubnet ./pubnet
COPY inventory ./inventory
COPY collectors ./collectors
COPY exporters ./exporters
COPY alerting ./alerting
COPY dashboards ./dashboards
COPY simulator ./simulator
COPY deploy/demo ./deploy/demo

# The README's install commands (scripts/demo), in the image's own venv.
RUN python3 -m venv .venv
RUN .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
RUN .venv/bin/python -m pip install -q --disable-pip-version-check -e .

ENV PATH=/opt/pubnet/.venv/bin:$PATH
USER pubnet
WORKDIR /var/lib/pubnet
EXPOSE 9108 9162/udp

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/readyz', timeout=4)"]

CMD ["pubnet", "run", "--config", "/etc/pubnet/pubnet.yaml"]
