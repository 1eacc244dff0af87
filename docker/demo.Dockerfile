# The demo backend, vsteer-demo: answers every request with its version.
#   make && podman build -f docker/demo.Dockerfile -t vsteer-demo .
#   podman run -d --network host vsteer-demo --listen 127.0.0.1:9001 --version 1.0
# BASE: any Debian 12 image. docker/base.sh makes one without a registry.
ARG BASE=docker.io/library/debian:bookworm-slim
FROM ${BASE}
RUN dpkg -s libmicrohttpd12 >/dev/null 2>&1 || \
    (apt-get update && apt-get install -y --no-install-recommends libmicrohttpd12 && \
     rm -rf /var/lib/apt/lists/*)
COPY build/vsteer-demo /usr/local/bin/vsteer-demo
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/vsteer-demo"]
CMD ["--listen", "127.0.0.1:9001", "--version", "1.0"]
