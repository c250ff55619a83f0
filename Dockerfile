# suanwang's image: `suanwang` as the entrypoint, run as a non-root user, no build tools in the
# final stage. The install step is the README's and CI's (`pip install .`), into a virtual
# environment that the final stage copies.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN python3 -m venv /opt/suanwang && /opt/suanwang/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/suanwang/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/suanwang --create-home suanwang
COPY --from=build /opt/suanwang /opt/suanwang
ENV PATH=/opt/suanwang/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001
WORKDIR /var/lib/suanwang
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
ENTRYPOINT ["suanwang"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
