# vsteerd in a container. It must share the host's network namespace
# (sk_lookup steers only to sockets of its own namespace), see the host's
# bpffs, and have CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN:
#   make && podman build -f docker/vsteerd.Dockerfile -t vsteerd .
#   podman run -d --network host --cap-drop all \
#       --cap-add bpf,perfmon,net_admin -v /sys/fs/bpf:/sys/fs/bpf \
#       -v /etc/vsteer:/etc/vsteer:ro -v vsteer-state:/var/lib/vsteer vsteerd
# The binary is the one `make` built (Debian 12's libbpf 1.1, libmicrohttpd,
# jansson, libcurl); BASE: any Debian 12 image. docker/base.sh makes one without a
# registry.
ARG BASE=docker.io/library/debian:bookworm-slim
FROM ${BASE}
RUN dpkg -s libbpf1 libelf1 libmicrohttpd12 libjansson4 libcurl4 >/dev/null 2>&1 || \
    (apt-get update && apt-get install -y --no-install-recommends \
        libbpf1 libelf1 zlib1g libmicrohttpd12 libjansson4 libcurl4 && \
     rm -rf /var/lib/apt/lists/*)
COPY build/vsteerd /usr/local/bin/vsteerd
VOLUME /var/lib/vsteer
ENTRYPOINT ["/usr/local/bin/vsteerd"]
CMD ["--config", "/etc/vsteer/config.json", "--pin-dir", "/sys/fs/bpf/vsteer", \
     "--state", "/var/lib/vsteer/state.json"]
